//! One file per subcommand.

pub(crate) mod audit;
pub(crate) mod call;
pub(crate) mod check;
pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod demo;
pub(crate) mod doctor;
pub(crate) mod emit;
pub(crate) mod grant;
pub(crate) mod index;
pub(crate) mod info;
pub(crate) mod install;
pub(crate) mod installed;
pub(crate) mod keys;
pub(crate) mod list;
pub(crate) mod logs;
pub(crate) mod mcp;
pub(crate) mod new;
pub(crate) mod pack;
pub(crate) mod reload;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod token;
pub(crate) mod tools;
pub(crate) mod update;
