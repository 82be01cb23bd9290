//! Which versions to install so that every plugin gets the plugins it
//! needs: solved by PubGrub (the `pubgrub` crate), which explains a
//! conflict in words.

use std::collections::BTreeMap;

use pubgrub::{DefaultStringReporter, OfflineDependencyProvider, PubGrubError, Ranges, Reporter};
use semver::{Comparator, Op, Version, VersionReq};

/// The name of the install itself, the root of the solve.
const ROOT: &str = "(this install)";

/// What is known to be installable: each plugin's versions and what each
/// version needs.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    versions: BTreeMap<String, BTreeMap<Version, BTreeMap<String, VersionReq>>>,
}

impl Catalog {
    /// Adds `name` at `version`, needing `dependencies`.
    pub fn add(
        &mut self,
        name: &str,
        version: Version,
        dependencies: BTreeMap<String, VersionReq>,
    ) {
        self.versions
            .entry(name.to_owned())
            .or_default()
            .insert(version, dependencies);
    }

    /// The versions to install for `name` at `requirement`, with
    /// everything it needs: name → version. A conflict is explained
    /// ("Because a 1.2.0 depends on b >=2, <3 and c 0.4.0 depends on
    /// b >=1, <2, ...").
    ///
    /// ```
    /// use plugwire_host::packages::Catalog;
    /// use semver::{Version, VersionReq};
    /// let mut catalog = Catalog::default();
    /// catalog.add("app", Version::new(1, 0, 0), [("kv".to_owned(), VersionReq::parse("^0.2").unwrap())].into());
    /// catalog.add("kv", Version::new(0, 1, 0), Default::default());
    /// catalog.add("kv", Version::new(0, 2, 3), Default::default());
    /// let plan = catalog.solve("app", &VersionReq::STAR).unwrap();
    /// assert_eq!(plan["kv"], Version::new(0, 2, 3));
    /// ```
    pub fn solve(
        &self,
        name: &str,
        requirement: &VersionReq,
    ) -> Result<BTreeMap<String, Version>, String> {
        let mut provider = OfflineDependencyProvider::<String, Ranges<Version>>::new();
        for (plugin, versions) in &self.versions {
            for (version, dependencies) in versions {
                provider.add_dependencies(
                    plugin.clone(),
                    version.clone(),
                    dependencies
                        .iter()
                        .map(|(d, r)| (d.clone(), ranges(r)))
                        .collect::<Vec<_>>(),
                );
            }
        }
        provider.add_dependencies(
            ROOT.to_owned(),
            Version::new(0, 0, 0),
            [(name.to_owned(), ranges(requirement))],
        );
        match pubgrub::resolve(&provider, ROOT.to_owned(), Version::new(0, 0, 0)) {
            Ok(solution) => Ok(solution
                .into_iter()
                .filter(|(plugin, _)| plugin != ROOT)
                .collect()),
            Err(PubGrubError::NoSolution(mut tree)) => {
                tree.collapse_no_versions();
                let words = DefaultStringReporter::report(&tree)
                    .replace('\n', " ")
                    .replace(&format!("{ROOT} 0.0.0 depends on"), "you asked for")
                    .replace(
                        &format!("{ROOT} 0.0.0 is forbidden"),
                        "the install cannot be done",
                    );
                Err(format!("no set of versions works: {words}"))
            }
            Err(other) => Err(other.to_string()),
        }
    }
}

/// A semver requirement as a set of versions.
pub(crate) fn ranges(requirement: &VersionReq) -> Ranges<Version> {
    requirement
        .comparators
        .iter()
        .fold(Ranges::full(), |all, c| all.intersection(&comparator(c)))
}

fn comparator(c: &Comparator) -> Ranges<Version> {
    let lower = Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0));
    // The first version past what the comparator's given parts allow.
    let next_major = Version::new(c.major + 1, 0, 0);
    let next_minor = Version::new(c.major, c.minor.unwrap_or(0) + 1, 0);
    let after_given = match (c.minor, c.patch) {
        (None, _) => next_major.clone(),
        (Some(_), None) => next_minor.clone(),
        (Some(_), Some(p)) => Version::new(c.major, c.minor.unwrap_or(0), p + 1),
    };
    match c.op {
        Op::Exact | Op::Wildcard => match c.patch {
            Some(_) => Ranges::singleton(lower),
            None => Ranges::between(lower, after_given),
        },
        Op::Greater => match c.patch {
            Some(_) => Ranges::strictly_higher_than(lower),
            None => Ranges::higher_than(after_given),
        },
        Op::GreaterEq => Ranges::higher_than(lower),
        Op::Less => Ranges::strictly_lower_than(lower),
        Op::LessEq => match c.patch {
            Some(_) => Ranges::lower_than(lower),
            None => Ranges::strictly_lower_than(after_given),
        },
        Op::Tilde => match c.minor {
            None => Ranges::between(lower, next_major),
            Some(_) => Ranges::between(lower, next_minor),
        },
        Op::Caret => {
            let upper = match (c.major, c.minor, c.patch) {
                (0, None, _) => next_major,
                (0, Some(0), None) => next_minor,
                (0, Some(0), Some(p)) => Version::new(0, 0, p + 1),
                (0, Some(_), _) => next_minor,
                _ => next_major,
            };
            Ranges::between(lower, upper)
        }
        // Operators semver may add later: accept any version.
        _ => Ranges::full(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> VersionReq {
        VersionReq::parse(text).unwrap()
    }

    #[test]
    fn ranges_agree_with_semver_on_a_grid_of_versions() {
        let requirements = [
            "*",
            "^1.2.3",
            "^1.2",
            "^1",
            "^0.2.3",
            "^0.2",
            "^0.0.3",
            "^0.0",
            "^0",
            "~1.2.3",
            "~1.2",
            "~1",
            "=1.2.3",
            "=1.2",
            "=1",
            ">1.2.3",
            ">1.2",
            ">1",
            ">=1.2",
            "<1.2.3",
            "<1.2",
            "<=1.2.3",
            "<=1.2",
            "<=1",
            ">=0.3, <0.5",
            "1.2.*",
            "1.*",
        ];
        for text in requirements {
            let r = req(text);
            let set = ranges(&r);
            for major in 0..3 {
                for minor in 0..4 {
                    for patch in 0..5 {
                        let v = Version::new(major, minor, patch);
                        assert_eq!(set.contains(&v), r.matches(&v), "{text} vs {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_conflict_is_explained_in_words() {
        let mut catalog = Catalog::default();
        let deps = |d: &[(&str, &str)]| {
            d.iter()
                .map(|(n, r)| ((*n).to_owned(), req(r)))
                .collect::<BTreeMap<_, _>>()
        };
        catalog.add(
            "a",
            Version::new(1, 2, 0),
            deps(&[("b", "^2"), ("c", "^0.4")]),
        );
        catalog.add("c", Version::new(0, 4, 0), deps(&[("b", "^1")]));
        catalog.add("b", Version::new(1, 0, 0), deps(&[]));
        catalog.add("b", Version::new(2, 0, 0), deps(&[]));
        let why = catalog.solve("a", &VersionReq::STAR).unwrap_err();
        assert!(
            why.contains("a 1.2.0 depends on b >=2.0.0, <3.0.0"),
            "{why}"
        );
        assert!(why.contains("depends on b >=1.0.0, <2.0.0"), "{why}");
        assert!(
            why.contains("you asked for a") && why.contains("cannot be done"),
            "{why}"
        );
        catalog.add("c", Version::new(0, 4, 1), deps(&[("b", "^2")]));
        let plan = catalog.solve("a", &VersionReq::STAR).unwrap();
        assert_eq!(plan["b"], Version::new(2, 0, 0));
        assert_eq!(plan["c"], Version::new(0, 4, 1));
        let missing = catalog.solve("nothere", &VersionReq::STAR).unwrap_err();
        assert!(missing.contains("nothere"), "{missing}");
    }
}
