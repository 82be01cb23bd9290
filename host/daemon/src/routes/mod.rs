//! The management API's routes, one file per area. Every route is added
//! through [`Routes`], which records its method, path and scope: the
//! authorization layer reads the scope from there, and a test holds the
//! table to the checked-in OpenAPI document.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};

use crate::need::Need;
use crate::state::State;

mod commands;
mod dashboard;
mod endpoints;
mod events;
mod health;
mod logs;
mod mcp;
mod packages;
mod panels;
mod plugins;
mod tools;

/// One route of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// Its method.
    pub method: Method,
    /// Its path, with `{parameters}`.
    pub path: &'static str,
    /// What a caller needs.
    pub need: Need,
}

/// A router that remembers what it routes.
pub(crate) struct Routes {
    router: Router<Arc<State>>,
    table: Vec<RouteInfo>,
}

impl Routes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    pub(crate) fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        need: Need,
        handler: H,
    ) -> Self
    where
        H: Handler<T, Arc<State>>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone())
            .unwrap_or_else(|_| panic!("{method} is not a method axum routes"));
        // Several methods on one path merge into one method router.
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(RouteInfo { method, path, need });
        self
    }
}

/// Every route of the management API, and the table of them.
pub(crate) fn all() -> (Router<Arc<State>>, Vec<RouteInfo>) {
    let routes = Routes::new();
    let routes = health::add(routes);
    let routes = plugins::add(routes);
    let routes = tools::add(routes);
    let routes = commands::add(routes);
    let routes = events::add(routes);
    let routes = logs::add(routes);
    let routes = mcp::add(routes);
    let routes = endpoints::add(routes);
    let routes = packages::add(routes);
    let routes = panels::add(routes);
    let routes = dashboard::add(routes);
    (routes.router, routes.table)
}

/// The table keyed for the authorization layer.
pub(crate) fn needs(table: &[RouteInfo]) -> HashMap<(Method, &'static str), Need> {
    table
        .iter()
        .map(|r| ((r.method.clone(), r.path), r.need))
        .collect()
}

/// The routes of the management API: method, path and what a caller
/// needs, as the daemon serves them.
///
/// ```
/// let routes = plugwire_daemon::routes();
/// assert!(routes.iter().any(|r| r.path == "/v1/plugins" && r.method == "GET"));
/// ```
pub fn table() -> Vec<RouteInfo> {
    all().1
}
