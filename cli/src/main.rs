//! `wacall`: the operator's tool for going live with Meta's WhatsApp SIP interface: check the TLS endpoint, provision
//! the phone number's calling settings, and explain failed calls from a SIP trace.
#![deny(unsafe_code)]

mod diagnose;
mod settings;
mod tls;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, documented in `--help`.
const EXIT_OK: u8 = 0;
const EXIT_REJECT: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_FAILURE: u8 = 3;

/// Everything that stops a command before it can give its verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("invalid settings:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
    #[error("{0}")]
    Network(String),
    #[error("Graph API answered HTTP {status}: {message}")]
    Graph { status: u16, message: String },
    #[error("{0}")]
    Input(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Invalid(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}

const AFTER_HELP: &str = "\
EXIT STATUS:
    0  all good (Meta would accept / no error found / request done)
    1  Meta would reject the endpoint, or the trace shows an error
    2  bad arguments or invalid settings
    3  the check could not run (network, timeout, Graph API error, unreadable file)

ENVIRONMENT:
    WACALL_GRAPH_URL     Graph API base URL (default https://graph.facebook.com/v23.0)
    WACALL_GRAPH_TOKEN   Graph API access token (never printed)
    WACALL_SIP_PASSWORD  sip_user_password for `diagnose` to verify digest responses (never printed)

EXAMPLES:
    wacall check-tls sip.example.com
    wacall settings get 106540352242922 --include-sip-credentials
    wacall settings apply 106540352242922 --hostname sip.example.com --dry-run
    wacall diagnose --hostname sip.example.com call.log

See `wacall <COMMAND> --help` for each command's checks and options.";

/// wacall: operator's tool for WhatsApp Business Calling over SIP.
#[derive(Debug, Parser)]
#[command(
    name = "wacall",
    version,
    about = "Check the TLS endpoint, provision Meta's calling settings, diagnose failed WhatsApp SIP calls",
    long_about = "wacall helps operators of Kamailio / FreeSWITCH deployments go live with Meta's WhatsApp Business \
                  SIP interface.\n\n\
                  check-tls   connects to your SIP server the way Meta does and says whether Meta would accept its \
                  certificate.\n\
                  settings    builds, validates, reads and applies the phone number's calling settings \
                  (Graph API /<PHONE_NUMBER_ID>/settings).\n\
                  diagnose    reads a SIP trace (text log or pcap) and explains what went wrong against Meta's rules.",
    after_long_help = AFTER_HELP
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the TLS endpoint Meta will connect to.
    #[command(
        long_about = "Connect to HOST[:PORT] (default port 5061) the way Meta's SIP client does: TLS 1.2 or 1.3 \
                      (rustls), SNI = HOST, no ALPN, no client certificate, public CA roots (webpki-roots). Verify \
                      the chain and the hostname, show the chain (subject, issuer, validity, names, key), the days \
                      left before expiry (warning under 14), the protocol and cipher, and say plainly what Meta would \
                      reject and why: expired or not-yet-valid certificate, hostname mismatch, self-signed or unknown \
                      CA, incomplete chain, no TLS 1.2+, handshake failure. Exit status 1 on a reject.",
        after_long_help = "EXAMPLES:\n    wacall check-tls sip.example.com\n    wacall check-tls sip.example.com:5062 \
                           --connect 203.0.113.7\n    wacall check-tls sip.test --ca-file my-ca.pem --json\n\n\
                           Compare: openssl s_client -verify_hostname HOST -connect HOST:5061"
    )]
    CheckTls(CheckTlsArgs),
    /// Build, validate, read and apply the phone number's calling settings.
    #[command(
        long_about = "Work with the Graph API calling settings of a business phone number: the SIP server Meta sends \
                      calls to (hostname, port, request_uri_user_params such as tgrp/trunk-context, each key and \
                      value at most 128 characters), the SIP status and the SRTP key exchange protocol (DTLS or SDES). \
                      The token comes from WACALL_GRAPH_TOKEN, --token-file or --token and is never printed; the base \
                      URL from --graph-url or WACALL_GRAPH_URL.",
        after_long_help = "EXAMPLES:\n    wacall settings payload --hostname sip.example.com --status ENABLED \\\n        \
                           --user-param tgrp=wacall --user-param trunk-context=byoc.example.com\n    \
                           wacall settings get 106540352242922 --include-sip-credentials\n    \
                           wacall settings apply 106540352242922 --hostname sip.example.com --srtp DTLS --dry-run\n    \
                           wacall settings apply 106540352242922 --status DISABLED --clear-servers"
    )]
    Settings {
        #[command(subcommand)]
        action: SettingsCmd,
    },
    /// Explain a failed call from a SIP trace (text log or pcap).
    #[command(
        long_about = "Read a SIP trace and explain what went wrong against Meta's rules. FILE is a text log with SIP \
                      messages one after another (each starts with its request or status line; timestamps on the \
                      line before a message are used when present), or a pcap/pcapng capture of unencrypted SIP over \
                      UDP or TCP (decrypt TLS first, or capture between proxy and PBX).\n\n\
                      Checks: 403 server mismatch (From domain vs --hostname), 404 / IP address in the R-URI, 407 \
                      loops and wrong digest fields (username with '+', uri different from the R-URI, realm, \
                      algorithm, qop/nc/cnonce), REGISTER, re-INVITE/UPDATE refused (500), session timers, early \
                      media, Record-Route / Contact changed inside a dialog, missing ACK, calls ending ~20 s or ~32 s \
                      after answer (no maiden SRTP packet, lost ACK), DTLS/ICE role mistakes in our SDP (setup, \
                      fingerprint, ice-lite, crypto, opus). Each finding has a severity, the message number, an \
                      explanation and a fix. Exit status 1 when an error is found.",
        after_long_help = "EXAMPLES:\n    wacall diagnose call.log\n    wacall diagnose --hostname sip.example.com \
                           capture.pcap --json"
    )]
    Diagnose(DiagnoseArgs),
}

#[derive(Debug, Args)]
struct CheckTlsArgs {
    /// Host name Meta connects to (as configured in the settings), with optional port (default 5061).
    #[arg(value_name = "HOST[:PORT]")]
    target: String,
    /// Connect to this address (IP, IP:PORT, or host:port) while verifying HOST.
    #[arg(long, value_name = "ADDR")]
    connect: Option<String>,
    /// Also trust the CA certificates in this PEM file (repeatable); Meta itself trusts only public CAs.
    #[arg(long = "ca-file", value_name = "PEM")]
    ca_files: Vec<PathBuf>,
    /// Trust only --ca-file, not the public roots.
    #[arg(long)]
    no_public_roots: bool,
    /// Seconds to wait for the connection and for the handshake.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "UPPER")]
enum Srtp {
    Dtls,
    Sdes,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "UPPER")]
enum Status {
    Enabled,
    Disabled,
}

#[derive(Debug, Args)]
struct PayloadArgs {
    /// SIP server host name Meta sends calls to (must be covered by its TLS certificate).
    #[arg(long)]
    hostname: Option<String>,
    /// SIP server TLS port (Meta's default 5061).
    #[arg(long)]
    port: Option<u16>,
    /// Request-URI user parameter KEY=VALUE (repeatable), e.g. tgrp=wacall; each key and value <= 128 characters.
    #[arg(long = "user-param", value_name = "KEY=VALUE", value_parser = settings::parse_user_param)]
    user_params: Vec<(String, String)>,
    /// SRTP key exchange protocol.
    #[arg(long, value_enum)]
    srtp: Option<Srtp>,
    /// SIP signaling status.
    #[arg(long, value_enum)]
    status: Option<Status>,
    /// Remove this app's SIP server (sends "servers": []).
    #[arg(long)]
    clear_servers: bool,
}

impl PayloadArgs {
    fn input(&self) -> settings::SettingsInput {
        settings::SettingsInput {
            hostname: self.hostname.clone(),
            port: self.port,
            user_params: self.user_params.clone(),
            srtp: self.srtp.map(|s| match s {
                Srtp::Dtls => "DTLS".to_string(),
                Srtp::Sdes => "SDES".to_string(),
            }),
            status: self.status.map(|s| match s {
                Status::Enabled => "ENABLED".to_string(),
                Status::Disabled => "DISABLED".to_string(),
            }),
            clear_servers: self.clear_servers,
        }
    }
}

#[derive(Debug, Args)]
struct GraphArgs {
    /// Graph API base URL.
    #[arg(long, env = "WACALL_GRAPH_URL", default_value = settings::DEFAULT_GRAPH_URL)]
    graph_url: String,
    /// Graph API access token (prefer WACALL_GRAPH_TOKEN or --token-file: command lines are visible to other users).
    #[arg(long, env = "WACALL_GRAPH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Read the Graph API access token from this file.
    #[arg(long, value_name = "FILE", conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// Seconds to wait for the Graph API.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
}

impl GraphArgs {
    fn graph(&self) -> Result<settings::Graph, CliError> {
        let token = match &self.token_file {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                CliError::Usage(format!("cannot read token file {}: {e}", p.display()))
            })?),
            None => self.token.clone(),
        };
        settings::Graph::new(&self.graph_url, token, Duration::from_secs(self.timeout))
    }
}

#[derive(Debug, Subcommand)]
enum SettingsCmd {
    /// Build and validate the POST payload and print it (no network).
    Payload(PayloadArgs),
    /// Read the current settings (GET /<PHONE_NUMBER_ID>/settings).
    Get {
        /// Graph API id of the business phone number.
        phone_number_id: String,
        /// Also fetch sip_user_password (the digest password for calls to Meta); shown masked.
        #[arg(long)]
        include_sip_credentials: bool,
        /// Show sip_user_password in clear.
        #[arg(long, requires = "include_sip_credentials")]
        show_password: bool,
        #[command(flatten)]
        graph: GraphArgs,
    },
    /// Validate and apply settings (POST /<PHONE_NUMBER_ID>/settings).
    Apply {
        /// Graph API id of the business phone number.
        phone_number_id: String,
        #[command(flatten)]
        payload: PayloadArgs,
        /// Print the request instead of sending it.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        graph: GraphArgs,
    },
}

#[derive(Debug, Args)]
struct DiagnoseArgs {
    /// SIP trace: text log or pcap/pcapng.
    file: PathBuf,
    /// The SIP server hostname configured in Meta's settings (checks From domains and 403s).
    #[arg(long)]
    hostname: Option<String>,
    /// Treat the file as this format instead of guessing.
    #[arg(long, value_enum)]
    format: Option<trace::Format>,
    /// sip_user_password, to verify the digest responses in the trace (prefer the environment variable).
    #[arg(long, env = "WACALL_SIP_PASSWORD", hide_env_values = true)]
    sip_password: Option<String>,
    /// Read sip_user_password from this file.
    #[arg(long, value_name = "FILE", conflicts_with = "sip_password")]
    sip_password_file: Option<PathBuf>,
    /// Also list the messages read from the trace.
    #[arg(long)]
    list: bool,
}

fn print_json<T: serde::Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("wacall: cannot encode JSON: {e}"),
    }
}

fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::CheckTls(a) => {
            let (host, port) = tls::parse_target(&a.target, 5061)?;
            let opts = tls::CheckTlsOptions {
                host,
                port,
                connect: a.connect,
                ca_files: a.ca_files,
                no_public_roots: a.no_public_roots,
                timeout: Duration::from_secs(a.timeout),
            };
            let report = tls::check(&opts)?;
            if cli.json {
                print_json(&report);
            } else {
                print!("{}", tls::render(&report));
            }
            Ok(if report.meta_accepts {
                EXIT_OK
            } else {
                EXIT_REJECT
            })
        }
        Command::Settings { action } => run_settings(action, cli.json),
        Command::Diagnose(a) => {
            let t = trace::read_file(&a.file, a.format)?;
            let password = match &a.sip_password_file {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .map_err(|e| {
                            CliError::Usage(format!(
                                "cannot read password file {}: {e}",
                                p.display()
                            ))
                        })?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                None => a.sip_password.clone(),
            };
            let report = diagnose::diagnose(&t, a.hostname.as_deref(), password.as_deref());
            if cli.json {
                print_json(&report);
            } else {
                print!("{}", diagnose::render(&report, a.list));
            }
            Ok(if report.errors > 0 {
                EXIT_REJECT
            } else {
                EXIT_OK
            })
        }
    }
}

fn run_settings(action: SettingsCmd, json: bool) -> Result<u8, CliError> {
    match action {
        SettingsCmd::Payload(p) => {
            let payload = settings::build_payload(&p.input())?;
            if json {
                print_json(&payload);
            } else {
                print_payload_text(&payload);
            }
            Ok(EXIT_OK)
        }
        SettingsCmd::Get {
            phone_number_id,
            include_sip_credentials,
            show_password,
            graph,
        } => {
            settings::validate_phone_id(&phone_number_id)?;
            let g = graph.graph()?;
            let mut reply = g.get(&phone_number_id, include_sip_credentials)?;
            let found = settings::mask_passwords(&mut reply.body, show_password);
            if json {
                print_json(&reply.body);
            } else {
                print!("{}", settings::summarize(&reply.body));
                if include_sip_credentials && found == 0 {
                    println!("no sip_user_password in the reply (is SIP configured for this app?)");
                }
            }
            Ok(EXIT_OK)
        }
        SettingsCmd::Apply {
            phone_number_id,
            payload,
            dry_run,
            graph,
        } => {
            settings::validate_phone_id(&phone_number_id)?;
            let built = settings::build_payload(&payload.input())?;
            if dry_run {
                let url = format!(
                    "{}/{phone_number_id}/settings",
                    graph.graph_url.trim_end_matches('/')
                );
                if json {
                    print_json(&serde_json::json!({
                        "dry_run": true, "method": "POST", "url": url,
                        "body": built.body, "example_request_uri": built.example_request_uri,
                        "warnings": built.warnings,
                    }));
                } else {
                    println!("POST {url}");
                    println!("Authorization: Bearer <token>");
                    println!("Content-Type: application/json");
                    println!();
                    print_payload_text(&built);
                    println!("(dry run: nothing sent)");
                }
                return Ok(EXIT_OK);
            }
            let g = graph.graph()?;
            let reply = g.post(&phone_number_id, &built.body)?;
            let success = reply.body["success"].as_bool().unwrap_or(false);
            if json {
                print_json(&serde_json::json!({
                    "applied": success, "http_status": reply.status, "reply": reply.body,
                    "body": built.body, "warnings": built.warnings,
                }));
            } else {
                for w in &built.warnings {
                    println!("WARNING: {w}");
                }
                if success {
                    println!("applied: Graph API answered success");
                } else {
                    println!(
                        "Graph API answered HTTP {} without success: {}",
                        reply.status, reply.body
                    );
                }
            }
            Ok(if success { EXIT_OK } else { EXIT_FAILURE })
        }
    }
}

fn print_payload_text(p: &settings::Payload) {
    match serde_json::to_string_pretty(&p.body) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("wacall: cannot encode JSON: {e}"),
    }
    if let Some(u) = &p.example_request_uri {
        println!("Meta's INVITE to you will look like: INVITE {u}");
    }
    for w in &p.warnings {
        println!("WARNING: {w}");
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let json = cli.json;
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if json {
                print_json(
                    &serde_json::json!({ "error": e.to_string(), "exit_code": e.exit_code() }),
                );
            }
            eprintln!("wacall: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
