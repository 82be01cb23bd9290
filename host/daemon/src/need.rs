//! What a route needs of a caller, keyed by its method and path: the
//! route table writes it, the authorization layer reads it.

use axum::http::Method;

use crate::tokens::Scope;

/// What a route needs of a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: static files with no data in them.
    Public,
    /// A token of this scope or a wider one.
    Scope(Scope),
    /// What the plugin's manifest says of the route (its `access`); the
    /// handler checks it once it knows the route.
    Manifest,
}

/// The method/path pair a route table entry is keyed by.
pub(crate) type RouteKey = (Method, &'static str);
