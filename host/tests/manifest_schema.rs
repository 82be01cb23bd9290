//! The published manifest schema, the parser and the example manifests
//! agree.

use std::path::Path;

use plugwire_host::manifest::Manifest;
use serde_json::Value;

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/manifest.schema.json"),
    )
    .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn as_json(toml_text: &str) -> Value {
    serde_json::to_value(toml::from_str::<toml::Value>(toml_text).unwrap()).unwrap()
}

#[test]
fn every_example_manifest_matches_the_schema_and_parses() {
    let validator = schema();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk-examples/rust");
    let mut seen = 0;
    for entry in std::fs::read_dir(examples).unwrap().flatten() {
        let path = entry.path().join("plugin.toml");
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&as_json(&text))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        Manifest::parse(&text, &entry.path()).unwrap_or_else(|e| panic!("{e}"));
        seen += 1;
    }
    assert!(seen >= 5);
}

#[test]
fn the_schema_and_the_parser_reject_the_same_mistakes() {
    let validator = schema();
    let base = "name = \"p\"\nversion = \"1.0.0\"\n[run]\nexecutable = \"x\"\n";
    let bad = [
        base.replace("\"p\"", "\"P\""),
        base.replace("1.0.0", "1.0"),
        base.replace("\"x\"", "\"../x\""),
        base.replace("\"x\"", "\"/bin/x\""),
        base.to_owned() + "unknown = 1\n",
        base.to_owned() + "[permissions]\nhost = [\"host.root\"]\n",
        base.to_owned() + "[permissions]\nread = [\"relative/path\"]\n",
        base.to_owned() + "[limits]\nopen_files = 3\n",
        base.to_owned() + "[limits]\npids = 0\n",
        base.to_owned() + "[protocol]\nversions = []\n",
        base.to_owned() + "[[http.routes]]\nmethod = \"TRACE\"\npath = \"/a\"\ntool = \"t\"\n",
        base.to_owned() + "[[http.routes]]\nmethod = \"GET\"\npath = \"a\"\ntool = \"t\"\n",
        base.to_owned()
            + "[[http.routes]]\nmethod = \"GET\"\npath = \"/a\"\ntool = \"t\"\naccess = \"root\"\n",
        base.to_owned() + "[http.panel]\ndir = \"/etc\"\n",
    ];
    for text in bad {
        assert!(
            !validator.is_valid(&as_json(&text)),
            "schema accepted:\n{text}"
        );
        assert!(
            Manifest::parse(&text, Path::new("/p")).is_err(),
            "parser accepted:\n{text}"
        );
    }
    assert!(validator.is_valid(&as_json(base)));
}

/// An executable per platform: the schema and the parser both take it, and
/// the parser names a platform missing from it.
#[test]
fn per_platform_executables_match_the_schema_and_parse() {
    let dir = tempfile::tempdir().unwrap();
    let here = plugwire_host::manifest::platform();
    std::fs::write(dir.path().join("run-here"), b"").unwrap();
    let text = format!(
        "name = \"multi\"\nversion = \"1.0.0\"\n[run]\nexecutable = {{ {here} = \"run-here\", linux-otherarch = \"run-there\" }}\n"
    );
    let errors: Vec<String> = schema()
        .iter_errors(&as_json(&text))
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let m = Manifest::parse(&text, dir.path()).unwrap();
    assert_eq!(m.executable, dir.path().join("run-here"));
    assert_eq!(m.platforms.len(), 2);
    let only_there = "name = \"multi\"\nversion = \"1.0.0\"\n[run]\nexecutable = { linux-otherarch = \"run-there\" }\n";
    let err = Manifest::parse(only_there, dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("no executable for {here}")), "{err}");
    let bad = "name = \"multi\"\nversion = \"1.0.0\"\n[run]\nexecutable = { Linux = \"x\" }\n";
    assert!(!schema().is_valid(&as_json(bad)));
    assert!(
        Manifest::parse(bad, dir.path())
            .unwrap_err()
            .to_string()
            .contains("platform")
    );
}
