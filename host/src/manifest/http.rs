//! `[http]` in a manifest: the HTTP routes a plugin adds to the daemon's
//! API (each served by one of its tools) and the dashboard panel it
//! contributes. Validated here; served by `plugwire-daemon`.

use serde::Deserialize;

/// Routes and panel a plugin contributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Http {
    /// Its routes, served under `/plugins/<name>`.
    pub routes: Vec<Route>,
    /// Its dashboard panel.
    pub panel: Option<Panel>,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Anyone who reaches the listener.
    Public,
    /// A token with scope `read` or wider.
    Read,
    /// A token with scope `call` or wider.
    Call,
    /// An `admin` token.
    Admin,
}

/// One route: a method and a path template, and the tool that serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// `/greet/{who}`: literal segments and `{parameter}` segments.
    pub path: String,
    /// The plugin's tool that answers it.
    pub tool: String,
    /// Who may call it.
    pub access: Access,
    /// Requests per second for the whole route, if limited.
    pub rate_limit: Option<u32>,
}

/// A dashboard panel: static files from the plugin's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    /// The folder of its files (with `index.html`), inside the plugin's
    /// directory.
    pub dir: String,
    /// Its title on the dashboard.
    pub title: Option<String>,
}

/// Routes one plugin may declare.
pub const MAX_ROUTES: usize = 64;
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    #[serde(default)]
    routes: Vec<RawRoute>,
    panel: Option<RawPanel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    method: String,
    path: String,
    tool: String,
    #[serde(default = "default_access")]
    access: String,
    rate_limit: Option<u32>,
}

fn default_access() -> String {
    "call".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPanel {
    dir: String,
    title: Option<String>,
}

/// What is wrong with one field: its name, its value, why, and how to fix it.
pub(super) type Invalid = (String, String, String, &'static str);

impl RawHttp {
    pub(super) fn validate(self) -> Result<Http, Invalid> {
        if self.routes.len() > MAX_ROUTES {
            return Err((
                "http.routes".into(),
                format!("{} routes", self.routes.len()),
                format!("at most {MAX_ROUTES} routes"),
                "serve more paths through parameters",
            ));
        }
        let mut routes: Vec<Route> = Vec::new();
        for (i, raw) in self.routes.into_iter().enumerate() {
            let field = |name: &str| format!("http.routes[{i}].{name}");
            let method = raw.method.to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                return Err((
                    field("method"),
                    raw.method,
                    "not a method routes take".into(),
                    "use GET, POST, PUT, PATCH or DELETE",
                ));
            }
            template(&raw.path).map_err(|why| {
                (
                    field("path"),
                    raw.path.clone(),
                    why,
                    "write e.g. \"/greet/{who}\": literal segments and {parameter} segments",
                )
            })?;
            if raw.tool.is_empty() || raw.tool.contains('.') || raw.tool.len() > 128 {
                return Err((
                    field("tool"),
                    raw.tool,
                    "not one of the plugin's own tool names".into(),
                    "name the tool without the plugin, e.g. \"greet\"",
                ));
            }
            let access = match raw.access.as_str() {
                "public" => Access::Public,
                "read" => Access::Read,
                "call" => Access::Call,
                "admin" => Access::Admin,
                _ => {
                    return Err((
                        field("access"),
                        raw.access,
                        "unknown access".into(),
                        "use public, read, call or admin",
                    ));
                }
            };
            if raw.rate_limit == Some(0) || raw.rate_limit.is_some_and(|r| r > 100_000) {
                return Err((
                    field("rate_limit"),
                    format!("{:?}", raw.rate_limit),
                    "expected requests per second between 1 and 100000".into(),
                    "write e.g. rate_limit = 10, or leave it out",
                ));
            }
            let route = Route {
                method,
                path: raw.path,
                tool: raw.tool,
                access,
                rate_limit: raw.rate_limit,
            };
            if let Some(earlier) = routes.iter().find(|r| r.overlaps(&route)) {
                return Err((
                    field("path"),
                    route.path,
                    format!("it overlaps {} {}", earlier.method, earlier.path),
                    "give each request one route",
                ));
            }
            routes.push(route);
        }
        let panel = match self.panel {
            None => None,
            Some(raw) => {
                let inside = !raw.dir.is_empty()
                    && !raw.dir.starts_with('/')
                    && !raw.dir.split('/').any(|p| p == "..")
                    && !raw.dir.contains('\0');
                if !inside {
                    return Err((
                        "http.panel.dir".into(),
                        raw.dir,
                        "the panel must be a folder inside the plugin's directory".into(),
                        "give a relative path such as \"panel\"",
                    ));
                }
                Some(Panel {
                    dir: raw.dir,
                    title: raw.title,
                })
            }
        };
        Ok(Http { routes, panel })
    }
}

/// One segment of a path template.
#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    Parameter(&'a str),
}

fn template(path: &str) -> Result<Vec<Segment<'_>>, String> {
    if !path.starts_with('/') || path.len() > 256 {
        return Err("expected a path starting with / (at most 256 characters)".into());
    }
    let mut segments = Vec::new();
    let mut names = Vec::new();
    for part in path[1..].split('/') {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let ok = !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(format!("{part:?} is not a parameter name"));
            }
            if names.contains(&name) {
                return Err(format!("parameter {name:?} appears twice"));
            }
            names.push(name);
            segments.push(Segment::Parameter(name));
        } else if part.is_empty() && path != "/" {
            return Err("an empty segment (//, or a trailing /)".into());
        } else if part == "." || part == ".." {
            return Err(format!("{part:?} is not a segment"));
        } else if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(format!(
                "{part:?}: only letters, digits and -._~ in literal segments"
            ));
        } else {
            segments.push(Segment::Literal(part));
        }
    }
    Ok(segments)
}

impl Route {
    /// The parameters, when `method` and `path` (as requested, relative to
    /// `/plugins/<name>`, percent-decoded per segment) are this route's.
    ///
    /// ```
    /// use plugwire_host::manifest::http::{Access, Route};
    /// let route = Route {
    ///     method: "GET".into(),
    ///     path: "/greet/{who}".into(),
    ///     tool: "greet".into(),
    ///     access: Access::Public,
    ///     rate_limit: None,
    /// };
    /// let params = route.matches("GET", "/greet/Ada%20L").unwrap();
    /// assert_eq!(params, [("who".to_owned(), "Ada L".to_owned())]);
    /// assert!(route.matches("POST", "/greet/x").is_none());
    /// assert!(route.matches("GET", "/greet").is_none());
    /// ```
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        self.matches_path(path)
    }

    /// The parameters, when `path` is this route's whatever the method.
    pub fn matches_path(&self, path: &str) -> Option<Vec<(String, String)>> {
        let template = template(&self.path).ok()?;
        let parts: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        if parts.len() != template.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in template.iter().zip(parts) {
            let decoded = percent_decode(part)?;
            match segment {
                Segment::Literal(l) if *l == decoded => {}
                Segment::Literal(_) => return None,
                Segment::Parameter(_) if decoded.is_empty() => return None,
                Segment::Parameter(name) => params.push(((*name).to_owned(), decoded)),
            }
        }
        Some(params)
    }

    /// Whether one request could match both routes.
    fn overlaps(&self, other: &Route) -> bool {
        if self.method != other.method {
            return false;
        }
        let (Ok(a), Ok(b)) = (template(&self.path), template(&other.path)) else {
            return false;
        };
        a.len() == b.len()
            && a.iter().zip(&b).all(|pair| match pair {
                (Segment::Literal(x), Segment::Literal(y)) => x == y,
                _ => true,
            })
    }
}

/// `%XX` escapes decoded; `None` for a bad escape or bytes that are not
/// UTF-8 (or decode to a `/`, which would change the route).
fn percent_decode(part: &str) -> Option<String> {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.contains('/')).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(routes: &str) -> Result<Http, Invalid> {
        #[derive(Deserialize)]
        struct Wrapper {
            http: RawHttp,
        }
        let w: Wrapper = toml::from_str(routes).unwrap();
        w.http.validate()
    }

    #[test]
    fn routes_and_a_panel_are_read() {
        let http = raw(
            "[http]\nroutes = [{ method = \"get\", path = \"/say/{text}\", tool = \"echo\", access = \"public\", rate_limit = 5 }]\npanel = { dir = \"panel\", title = \"Echo\" }",
        )
        .unwrap();
        assert_eq!(http.routes[0].method, "GET");
        assert_eq!(http.routes[0].access, Access::Public);
        assert_eq!(http.panel.unwrap().title.as_deref(), Some("Echo"));
    }

    #[test]
    fn bad_routes_say_which_field() {
        let bad = [
            (
                "method = \"TRACE\", path = \"/a\", tool = \"t\"",
                "http.routes[0].method",
            ),
            (
                "method = \"GET\", path = \"a\", tool = \"t\"",
                "http.routes[0].path",
            ),
            (
                "method = \"GET\", path = \"/a/../b\", tool = \"t\"",
                "http.routes[0].path",
            ),
            (
                "method = \"GET\", path = \"/{x}/{x}\", tool = \"t\"",
                "http.routes[0].path",
            ),
            (
                "method = \"GET\", path = \"/a\", tool = \"other.t\"",
                "http.routes[0].tool",
            ),
            (
                "method = \"GET\", path = \"/a\", tool = \"t\", access = \"root\"",
                "http.routes[0].access",
            ),
            (
                "method = \"GET\", path = \"/a\", tool = \"t\", rate_limit = 0",
                "http.routes[0].rate_limit",
            ),
        ];
        for (route, field) in bad {
            let e = raw(&format!("[http]\nroutes = [{{ {route} }}]")).unwrap_err();
            assert_eq!(e.0, field, "{route}: {e:?}");
        }
        let e = raw("[http]\npanel = { dir = \"../elsewhere\" }").unwrap_err();
        assert_eq!(e.0, "http.panel.dir");
        let e = raw(
            "[http]\nroutes = [{ method = \"GET\", path = \"/a/{x}\", tool = \"t\" }, { method = \"GET\", path = \"/a/b\", tool = \"u\" }]",
        )
        .unwrap_err();
        assert!(e.2.contains("overlaps"), "{e:?}");
    }

    #[test]
    fn parameters_cannot_smuggle_a_slash() {
        let route = Route {
            method: "GET".into(),
            path: "/file/{name}".into(),
            tool: "t".into(),
            access: Access::Read,
            rate_limit: None,
        };
        assert!(route.matches("GET", "/file/a%2Fb").is_none());
        assert!(route.matches("GET", "/file/%zz").is_none());
        assert!(route.matches("GET", "/file/").is_none());
    }
}
