//! `mica nodetool -h <host> [-p <port>] <command> [args]`: Cassandra's nodetool verbs over the node admin API.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

/// Environment variable that may hold the admin token instead of `--token-file`.
const TOKEN_ENV: &str = "MICA_ADMIN_TOKEN";

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct NodetoolArgs {
    /// Node admin API host (nodetool's -h).
    #[arg(short = 'h', long = "host", default_value = "127.0.0.1")]
    host: String,
    /// Node admin API port (`mica.admin_port` in its cassandra.yaml).
    #[arg(short = 'p', long = "port", default_value_t = mica_config::DEFAULT_ADMIN_PORT)]
    port: u16,
    /// File holding the node's admin token (by default `admin.token` in its first data directory);
    /// the MICA_ADMIN_TOKEN environment variable may hold the token instead.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// The nodetool command, e.g. status.
    command: String,
    /// The command's arguments, e.g. a keyspace and tables.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn run(args: &NodetoolArgs) -> anyhow::Result<()> {
    let token = match (&args.token_file, std::env::var(TOKEN_ENV)) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the admin token file {}", path.display()))?,
        (None, Ok(token)) if !token.trim().is_empty() => token,
        _ => bail!(
            "no admin token: pass --token-file <node data directory>/admin.token or set {TOKEN_ENV} \
             (the node creates the file at first start)"
        ),
    };
    let client = mica_nodetool::AdminClient::new(&args.host, args.port, &token);
    let output = match mica_nodetool::run(&client, &args.command, &args.args) {
        Ok(output) => output,
        // Progress printed before a failure (repair) goes to stdout, as Cassandra's nodetool prints it.
        Err(mica_nodetool::NodetoolError::Failed { output, message }) => {
            print!("{output}");
            bail!(message)
        }
        Err(e) => return Err(e.into()),
    };
    print!("{output}");
    Ok(())
}
