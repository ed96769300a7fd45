//! `mica cluster invoke-command --no-wait` (Azure's invokeCommandAsync) and `mica cluster command show|list`:
//! commands that run on the control plane in the background, polled through `clusters/{c}/commands/{id}`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use mica_control_api::{CommandPostBody, CommandPublicResource, CommandStatus, ListResponse};

use super::{Connection, OutputFormat, print_json};

/// `mica cluster command ...`.
#[derive(Debug, Subcommand)]
pub enum CommandCommand {
    /// Show a command started with `invoke-command --no-wait` (status, result, exit code).
    Show(CommandShowArgs),
    /// List the cluster's commands started with `invoke-command --no-wait`.
    List(CommandListArgs),
}

#[derive(Debug, Args)]
pub struct CommandShowArgs {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
    #[arg(long = "command-id")]
    command_id: String,
}

#[derive(Debug, Args)]
pub struct CommandListArgs {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
}

/// Starts the command with `invokeCommandAsync` and prints the accepted command resource.
pub fn invoke_async(connection: &Connection, cluster: &str, body: &CommandPostBody) -> Result<()> {
    let client = connection.client()?;
    let command: CommandPublicResource =
        client.post_json(&format!("/clusters/{cluster}/invokeCommandAsync"), body)?;
    print_command(connection, &command)
}

pub fn run(command: &CommandCommand, connection: &Connection) -> Result<()> {
    let client = connection.client()?;
    match command {
        CommandCommand::Show(args) => {
            let command: CommandPublicResource = client.get(&format!(
                "/clusters/{}/commands/{}",
                args.cluster_name, args.command_id
            ))?;
            print_command(connection, &command)?;
            if connection.output == OutputFormat::Table && command.status == CommandStatus::Failed {
                bail!("the command failed");
            }
            Ok(())
        }
        CommandCommand::List(args) => {
            let list: ListResponse<CommandPublicResource> =
                client.get(&format!("/clusters/{}/commands", args.cluster_name))?;
            match connection.output {
                OutputFormat::Json => print_json(&list),
                OutputFormat::Table => {
                    println!(
                        "{:<36}  {:<10}  {:<15}  {:<16}  EXIT",
                        "COMMAND ID", "STATUS", "HOST", "COMMAND"
                    );
                    for c in &list.value {
                        let exit = c.exit_code.map_or_else(String::new, |e| e.to_string());
                        println!(
                            "{:<36}  {:<10}  {:<15}  {:<16}  {exit}",
                            c.command_id,
                            c.status.as_str(),
                            c.host,
                            c.command
                        );
                    }
                    Ok(())
                }
            }
        }
    }
}

fn print_command(connection: &Connection, command: &CommandPublicResource) -> Result<()> {
    match connection.output {
        OutputFormat::Json => print_json(command),
        OutputFormat::Table => {
            println!("command {}: {}", command.command_id, command.status.as_str());
            print!("{}", command.result);
            if let Some(error) = &command.error_output {
                eprint!("{error}");
            }
            Ok(())
        }
    }
}
