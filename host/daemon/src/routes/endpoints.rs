//! Plugin endpoints: the routes a plugin's manifest declares (`[http]`),
//! served under `/plugins/<name>/...` by the tool each names. The request
//! becomes the tool's arguments (the JSON body's fields, then the query,
//! then the path's parameters, each overriding the one before), checked
//! against the tool's schema before the plugin sees them; the tool's
//! result becomes the response. A route the manifest does not declare is
//! not served.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use plugwire_host::CallOptions;
use plugwire_host::manifest::http::Access;
use serde_json::{Map, Value};

use super::Routes;
use crate::api::ApiError;
use crate::auth::Transport;
use crate::limits::read_body;
use crate::need::Need;
use crate::state::State;
use crate::tokens::Scope;

pub(super) fn add(routes: Routes) -> Routes {
    let mut routes = routes;
    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ] {
        routes = routes.add(method, "/plugins/{name}/{*rest}", Need::Manifest, serve);
    }
    routes
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    AxumState(state): AxumState<Arc<State>>,
    Path((name, rest)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    transport: Option<axum::Extension<Transport>>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let manifest = state
        .host
        .manifest(&name)
        .map_err(|_| crate::views::no_plugin(&name))?;
    // The raw path, so that an escaped `/` inside a parameter stays one.
    let raw_rest = uri
        .path()
        .strip_prefix(&format!(
            "/plugins/{}",
            crate::client::encode_segment(&name)
        ))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("/{rest}"));
    let routes = &manifest.http.routes;
    let Some((route, params)) = routes
        .iter()
        .find_map(|r| r.matches(method.as_str(), &raw_rest).map(|p| (r, p)))
    else {
        let other_methods: Vec<&str> = routes
            .iter()
            .filter(|r| r.matches_path(&raw_rest).is_some())
            .map(|r| r.method.as_str())
            .collect();
        if !other_methods.is_empty() {
            return Err(ApiError::new(
                "method_not_allowed",
                format!("{name}'s route {raw_rest} does not take {method}"),
            )
            .with_hint(format!("it takes {}", other_methods.join(", "))));
        }
        let declared: Vec<String> = routes
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        return Err(ApiError::new(
            "not_found",
            format!("plugin {name:?} declares no route {method} {raw_rest}"),
        )
        .with_hint(if declared.is_empty() {
            "it declares none ([http.routes] in its plugin.toml)".to_owned()
        } else {
            format!("it declares {}", declared.join(", "))
        }));
    };
    let need = match route.access {
        Access::Public => Need::Public,
        Access::Read => Need::Scope(Scope::Read),
        Access::Call => Need::Scope(Scope::Call),
        Access::Admin => Need::Scope(Scope::Admin),
    };
    let transport = transport.map_or(Transport::Tcp(0), |t| t.0);
    let target = (method.clone(), uri.path().to_owned());
    crate::auth::check(&state, transport, &headers, need, &target)?;
    if let Some(rate) = route.rate_limit {
        let key = format!("{name} {} {}", route.method, route.path);
        if !state.route_rates.allow(&key, rate) {
            return Err(ApiError::new(
                "rate_limited",
                format!(
                    "{name}'s route {} {} takes {rate} requests a second",
                    route.method, route.path
                ),
            )
            .with_hint("retry after a second"));
        }
    }
    let bytes = read_body(body, &state.limits).await?;
    let mut arguments = if bytes.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(fields)) => fields,
            Ok(other) => {
                return Err(ApiError::new(
                    "invalid_argument",
                    format!(
                        "the body must be a JSON object (its fields become the tool's arguments), not {}",
                        plugwire_proto::text::json_kind(&other)
                    ),
                ));
            }
            Err(e) => {
                return Err(ApiError::new(
                    "malformed_request",
                    format!("the body is not JSON: {e}"),
                ));
            }
        }
    };
    let qualified = format!("{name}.{}", route.tool);
    // One plugin's one schema: not every tool of every plugin per request.
    let schema = state
        .host
        .tool_schema(&name, &route.tool)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                "unavailable",
                format!(
                    "{name}'s route {} {} names tool {:?}, which the plugin does not offer now",
                    route.method, route.path, route.tool
                ),
            )
            .with_hint("`plugwire info` shows the plugin's tools and its last error")
        })?;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        arguments.insert(key.to_string(), typed(&schema, &key, value.into_owned()));
    }
    for (key, value) in params {
        let value = typed(&schema, &key, value);
        arguments.insert(key, value);
    }
    let output = state
        .host
        .call_tool(&qualified, Value::Object(arguments), CallOptions::default())
        .await?;
    if output.is_error {
        let message = match output.content {
            Value::String(s) => s,
            other => other.to_string(),
        };
        return Err(ApiError::new("tool_error", message));
    }
    Ok((StatusCode::OK, Json(output.content)).into_response())
}

/// A text from a path or query as the type the tool's schema gives the
/// argument: a number, an integer or a boolean where it says so.
fn typed(schema: &Value, key: &str, text: String) -> Value {
    let kind = schema
        .pointer(&format!(
            "/properties/{}/type",
            key.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(Value::as_str);
    match kind {
        Some("integer") => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text)),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
            .unwrap_or(Value::String(text)),
        Some("boolean") => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        _ => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_take_the_schema_s_types() {
        let schema = json!({"properties": {"n": {"type": "integer"}, "x": {"type": "number"}, "b": {"type": "boolean"}, "s": {"type": "string"}}});
        assert_eq!(typed(&schema, "n", "42".into()), json!(42));
        assert_eq!(
            typed(&schema, "n", "4.2".into()),
            json!("4.2"),
            "left for the schema to refuse"
        );
        assert_eq!(typed(&schema, "x", "0.5".into()), json!(0.5));
        assert_eq!(typed(&schema, "b", "true".into()), json!(true));
        assert_eq!(typed(&schema, "s", "42".into()), json!("42"));
        assert_eq!(typed(&schema, "other", "1".into()), json!("1"));
    }
}
