//! The multi-datacenter verbs of `nodetool`: `rebuild` and `cleanup`, with Cassandra 4.1's arguments
//! (`rebuild [-ks <keyspace>] [-ts <tokens>] <source-dc>`, `cleanup [<keyspace> [<tables>...]]`), printed by
//! [`crate::render_dc`].

use mica_node_admin_api as api;

use crate::render_dc as render;
use crate::{AdminClient, NodetoolError};

/// The verbs [`run`] knows.
pub const VERBS: &[&str] = &["rebuild", "cleanup"];

impl AdminClient {
    pub fn rebuild(&self, request: &api::RebuildRequest) -> Result<api::RebuildSummary, NodetoolError> {
        self.post_json(api::REBUILD, request)
    }

    pub fn cleanup(&self, request: &api::TablesRequest) -> Result<api::CleanupSummary, NodetoolError> {
        self.post_json(api::CLEANUP, request)
    }
}

fn usage(text: impl Into<String>) -> NodetoolError {
    NodetoolError::Usage(text.into())
}

/// Parses nodetool's `-ts` value: `(start,end]` ranges separated by commas, e.g. `(-10,20],(30,40]`.
pub fn parse_token_ranges(text: &str) -> Result<Vec<(i64, i64)>, NodetoolError> {
    let bad = || {
        usage(format!(
            "A range must be given as (start_token,end_token], e.g. (-9223372036854775808,0]; got '{text}'"
        ))
    };
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let body = rest.strip_prefix('(').ok_or_else(bad)?;
        let close = body.find(']').ok_or_else(bad)?;
        let (start, end) = body[..close].split_once(',').ok_or_else(bad)?;
        let start = start.trim().parse::<i64>().map_err(|_| bad())?;
        let end = end.trim().parse::<i64>().map_err(|_| bad())?;
        out.push((start, end));
        rest = body[close + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// Parses `rebuild`'s arguments.
pub fn rebuild_request(args: &[String]) -> Result<api::RebuildRequest, NodetoolError> {
    let mut request = api::RebuildRequest::default();
    let mut source = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-ks" | "--keyspace" => {
                request.keyspace = Some(it.next().ok_or_else(|| usage("-ks requires a keyspace"))?.clone());
            }
            "-ts" | "--tokens" => {
                let value = it.next().ok_or_else(|| usage("-ts requires token ranges"))?;
                request.tokens = Some(parse_token_ranges(value)?);
            }
            "--" => {}
            other if other.starts_with('-') => {
                return Err(usage(format!("rebuild: unsupported option '{other}'")));
            }
            other if source.is_none() => source = Some(other.to_owned()),
            other => return Err(usage(format!("rebuild: unexpected argument '{other}'"))),
        }
    }
    // Cassandra's nodetool accepts a rebuild without a source datacenter (any other datacenter); Mica needs
    // the source named so that it never streams from a datacenter that is itself being rebuilt.
    request.source_dc =
        source.ok_or_else(|| usage("rebuild requires the source datacenter name, e.g. rebuild dc1"))?;
    if request.tokens.is_some() && request.keyspace.is_none() {
        return Err(usage("Cannot specify tokens without keyspace."));
    }
    Ok(request)
}

/// Runs one of [`VERBS`]; `None` when `verb` is not one of them.
pub fn run(client: &AdminClient, verb: &str, args: &[String]) -> Option<Result<String, NodetoolError>> {
    let result = match verb {
        "rebuild" => rebuild_request(args)
            .and_then(|r| client.rebuild(&r))
            .map(|s| render::rebuild(&s)),
        "cleanup" => {
            // `-j <jobs>` only sets Cassandra's parallelism; Mica cleans tables one after the other.
            let mut rest: Vec<String> = Vec::new();
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if a == "-j" || a == "--jobs" {
                    it.next();
                } else {
                    rest.push(a.clone());
                }
            }
            client
                .cleanup(&api::TablesRequest {
                    keyspace: rest.first().cloned(),
                    tables: rest.iter().skip(1).cloned().collect(),
                })
                .map(|s| render::cleanup(&s))
        }
        _ => return None,
    };
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn token_ranges_parse_like_nodetool() {
        assert_eq!(parse_token_ranges("(-10,20]").expect("one"), vec![(-10, 20)]);
        assert_eq!(
            parse_token_ranges("(-10,20],(30, 40]").expect("two"),
            vec![(-10, 20), (30, 40)]
        );
        assert!(parse_token_ranges("").is_err());
        assert!(parse_token_ranges("[1,2]").is_err());
        assert!(parse_token_ranges("(1,x]").is_err());
    }

    #[test]
    fn rebuild_arguments() {
        let r = rebuild_request(&args(&["dc1"])).expect("plain");
        assert_eq!((r.source_dc.as_str(), r.keyspace, r.tokens), ("dc1", None, None));
        let r = rebuild_request(&args(&["-ks", "ks", "-ts", "(1,2]", "dc2"])).expect("full");
        assert_eq!(r.keyspace.as_deref(), Some("ks"));
        assert_eq!(r.tokens, Some(vec![(1, 2)]));
        assert_eq!(r.source_dc, "dc2");
        let err = rebuild_request(&args(&["-ts", "(1,2]", "dc2"])).expect_err("tokens need ks");
        assert_eq!(err.to_string(), "Cannot specify tokens without keyspace.");
        assert!(rebuild_request(&args(&[])).is_err());
        assert!(rebuild_request(&args(&["dc1", "dc2"])).is_err());
    }
}
