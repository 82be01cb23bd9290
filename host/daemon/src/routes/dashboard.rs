//! The dashboard: a small page that lists plugins with their state and
//! resource use, shows their tools, commands and recent logs, reloads,
//! enables and disables them, and shows the panels plugins contribute.
//! The page holds no data: everything it shows it fetches with the token
//! the user gives it, so the files themselves are public.

use axum::http::{Method, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::Routes;
use crate::need::Need;

const INDEX: &str = include_str!("../../dashboard/index.html");
const APP: &str = include_str!("../../dashboard/app.js");
const STYLE: &str = include_str!("../../dashboard/style.css");

/// Scripts and styles from the daemon only, frames from the daemon only
/// (the panels, sandboxed by their own policy), requests to the daemon
/// only, and never framed itself.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

pub(super) fn add(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/dashboard", Need::Public, || async {
            Redirect::permanent("/dashboard/")
        })
        .add(Method::GET, "/dashboard/", Need::Public, || async {
            page("text/html; charset=utf-8", INDEX)
        })
        .add(Method::GET, "/dashboard/app.js", Need::Public, || async {
            page("text/javascript; charset=utf-8", APP)
        })
        .add(
            Method::GET,
            "/dashboard/style.css",
            Need::Public,
            || async { page("text/css; charset=utf-8", STYLE) },
        )
}

fn page(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
        .into_response()
}
