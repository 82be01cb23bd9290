//! `plugwire token create|list|revoke`: bearer tokens for the daemon's TCP
//! listener. A token is printed once; only its hash is kept.

use std::process::ExitCode;

use plugwire_daemon::tokens::{Scope, Tokens};
use serde_json::json;

use crate::output::{Failure, print_json, table};

pub(crate) fn create(name: &str, scope: Scope, as_json: bool) -> Result<ExitCode, Failure> {
    let path = Tokens::default_path();
    let mut tokens = Tokens::load(&path).map_err(Failure::new)?;
    if tokens.tokens.iter().any(|t| t.name == name) {
        return Err(Failure::new(format!("a token named {name:?} exists"))
            .hint("`plugwire token revoke NAME` first, or choose another --name"));
    }
    let token = tokens.create(name, scope).map_err(Failure::new)?;
    tokens.save(&path).map_err(Failure::new)?;
    if as_json {
        print_json(&json!({"name": name, "scope": scope, "token": token}));
    } else {
        println!("{token}");
        eprintln!(
            "token {name:?} ({scope}): shown once, stored hashed in {}",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(as_json: bool) -> Result<ExitCode, Failure> {
    let tokens = Tokens::load(&Tokens::default_path()).map_err(Failure::new)?;
    if as_json {
        print_json(&json!(
            tokens
                .tokens
                .iter()
                .map(|t| json!({
                    "id": t.id, "name": t.name, "scope": t.scope, "created": t.created,
                }))
                .collect::<Vec<_>>()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let rows = tokens
        .tokens
        .iter()
        .map(|t| vec![t.id.clone(), t.name.clone(), t.scope.to_string()])
        .collect();
    print!("{}", table(&["ID", "NAME", "SCOPE"], rows));
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn revoke(id_or_name: &str) -> Result<ExitCode, Failure> {
    let path = Tokens::default_path();
    let mut tokens = Tokens::load(&path).map_err(Failure::new)?;
    if !tokens.revoke(id_or_name) {
        return Err(Failure::new(format!("no token {id_or_name:?}"))
            .hint("`plugwire token list` shows ids and names"));
    }
    tokens.save(&path).map_err(Failure::new)?;
    crate::output::said(
        format!("revoked {id_or_name}"),
        json!({"revoked": id_or_name}),
    );
    Ok(ExitCode::SUCCESS)
}
