//! Plugins that need other plugins (the manifest's `dependencies`): before
//! a plugin starts, each plugin it needs must be there, enabled, at a
//! version the requirement accepts, and started; a cycle is refused
//! rather than waited on.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::Core;

impl Core {
    /// Starts `dependency`, which `plugin` needs at `requirement`, or says
    /// why it cannot be had.
    pub(crate) async fn start_dependency(
        &self,
        plugin: &str,
        dependency: &str,
        requirement: &semver::VersionReq,
    ) -> Result<(), String> {
        let needs =
            |why: String| format!("plugin {plugin:?} needs {dependency} {requirement}, {why}");
        let Some(instance) = self.registry.get(dependency) else {
            return Err(needs(format!(
                "which is not installed; install it (`plugwire install {dependency}`)"
            )));
        };
        if !instance.enabled() {
            return Err(needs(format!(
                "which is disabled; enable it (`plugwire enable {dependency}`)"
            )));
        }
        if !requirement.matches(&instance.manifest.version) {
            return Err(needs(format!(
                "but {} is installed; install a matching version",
                instance.manifest.version
            )));
        }
        let graph: BTreeMap<String, BTreeSet<String>> = self
            .registry
            .all()
            .iter()
            .map(|i| {
                (
                    i.name().to_owned(),
                    i.manifest.dependencies.keys().cloned().collect(),
                )
            })
            .collect();
        if let Some(path) = path_between(&graph, dependency, plugin) {
            return Err(format!(
                "plugins that need each other cannot start: {plugin} needs {}; remove one of these dependencies",
                path.join(", which needs ")
            ));
        }
        instance
            .ensure_ready()
            .await
            .map(|_| ())
            .map_err(|status| needs(format!("which cannot start: {}", status.message())))
    }
}

/// A chain of dependencies from `from` to `to`, if there is one.
fn path_between(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_owned()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("paths are never empty");
        if last == to {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in graph.get(last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_and_chains_named() {
        let graph: BTreeMap<String, BTreeSet<String>> = [
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec!["b"]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
        assert_eq!(path_between(&graph, "b", "a").unwrap(), ["b", "c", "a"]);
        assert!(path_between(&graph, "b", "d").is_none(), "nothing needs d");
        assert!(path_between(&graph, "x", "a").is_none());
    }
}
