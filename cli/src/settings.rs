//! `wacall settings`: build, validate, read and apply the Graph API calling settings of a phone number
//! (`/<PHONE_NUMBER_ID>/settings`), with the token kept out of every output.

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::CliError;

/// Default Graph API base; `--graph-url` or `WACALL_GRAPH_URL` override it.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com/v23.0";

/// The settings the operator asked for.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub hostname: Option<String>,
    pub port: Option<u16>,
    pub user_params: Vec<(String, String)>,
    pub srtp: Option<String>,
    pub status: Option<String>,
    /// Send `servers: []` (removes this app's SIP server).
    pub clear_servers: bool,
}

/// A validated payload plus what the operator should know about it.
#[derive(Debug, Serialize)]
pub struct Payload {
    pub body: Value,
    /// The R-URI Meta will send for a user-initiated call, shown with an example number.
    pub example_request_uri: Option<String>,
    pub warnings: Vec<String>,
}

/// Parses `KEY=VALUE`.
pub fn parse_user_param(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

fn is_dns_name(h: &str) -> bool {
    h.len() <= 253
        && h.contains('.')
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && !h
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
}

/// Checks a phone number id: Graph ids are decimal digits.
pub fn validate_phone_id(id: &str) -> Result<(), CliError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(CliError::Usage(format!(
            "phone number id {id:?} must be the numeric Graph API id of the phone number (not the phone number itself)"
        )));
    }
    Ok(())
}

/// Builds the POST body and refuses what Meta would refuse.
pub fn build_payload(input: &SettingsInput) -> Result<Payload, CliError> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut calling = Map::new();
    let mut sip = Map::new();

    if let Some(status) = &input.status {
        sip.insert("status".into(), json!(status));
    }
    if input.clear_servers
        && (input.hostname.is_some() || !input.user_params.is_empty() || input.port.is_some())
    {
        errors.push(
            "--clear-servers cannot be combined with --hostname, --port or --user-param"
                .to_string(),
        );
    }
    if input.hostname.is_none() && (input.port.is_some() || !input.user_params.is_empty()) {
        errors.push(
            "--port and --user-param need --hostname (each server entry requires a hostname)"
                .to_string(),
        );
    }

    let mut example = None;
    if let Some(host) = &input.hostname {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
            errors.push(format!(
                "hostname {host:?} is an IP address: Meta connects over TLS and verifies the certificate against the \
                 hostname, so configure a DNS name"
            ));
        } else if !is_dns_name(&host) {
            errors.push(format!(
                "hostname {host:?} is not a fully qualified DNS name"
            ));
        }
        let mut server = Map::new();
        server.insert("hostname".into(), json!(host));
        if let Some(port) = input.port {
            if port == 0 {
                errors.push("port 0 is not a port".into());
            }
            if port == 5060 {
                warnings.push(
                    "port 5060 is the usual plain-SIP port; Meta only speaks TLS (5061 by default)"
                        .into(),
                );
            }
            server.insert("port".into(), json!(port));
        }
        let mut params = Map::new();
        let mut uri_params = String::new();
        for (k, v) in &input.user_params {
            // The core checks what Meta and SIP allow: token keys, user-part value characters, 1..=128 each.
            if let Err(e) = wacall::sip::params::request_uri_user_params_json(&[(k, v)]) {
                errors.push(format!("user param {k:?}: {e}"));
            }
            if params.keys().any(|x| x.eq_ignore_ascii_case(k)) {
                errors.push(format!("user param {k} given twice"));
            }
            params.insert(k.clone(), json!(v));
            uri_params.push(';');
            uri_params.push_str(k);
            if !v.is_empty() {
                uri_params.push('=');
                uri_params.push_str(v);
            }
        }
        if !params.is_empty() {
            server.insert("request_uri_user_params".into(), Value::Object(params));
        }
        let port_part = match input.port {
            Some(p) if p != 5061 => format!(":{p}"),
            _ => String::new(),
        };
        example = Some(format!(
            "sip:+15551234567{uri_params}@{host}{port_part};transport=tls"
        ));
        sip.insert("servers".into(), json!([Value::Object(server)]));
    } else if input.clear_servers {
        if input.status.as_deref() == Some("ENABLED") {
            errors.push(
                "--clear-servers with --status ENABLED: Meta requires at least one SIP server while SIP is enabled"
                    .into(),
            );
        }
        sip.insert("servers".into(), json!([]));
    } else if input.status.as_deref() == Some("ENABLED") {
        warnings.push(
            "--status ENABLED without --hostname: works only if a SIP server is already configured for this number"
                .into(),
        );
    }
    if input.status.as_deref() == Some("ENABLED") {
        warnings.push(
            "with SIP ENABLED this number uses SIP exclusively for calls: no calling webhooks, no Graph call API".into(),
        );
    }

    if !sip.is_empty() {
        calling.insert("sip".into(), Value::Object(sip));
    }
    if let Some(srtp) = &input.srtp {
        calling.insert("srtp_key_exchange_protocol".into(), json!(srtp));
        if srtp == "SDES" {
            warnings.push("SDES keys travel in the SDP: the SIP leg must be TLS end to end".into());
        }
    }
    if calling.is_empty() {
        errors.push("nothing to set: give --hostname, --status, --srtp or --clear-servers".into());
    }
    if !errors.is_empty() {
        return Err(CliError::Invalid(errors));
    }
    Ok(Payload {
        body: json!({ "calling": Value::Object(calling) }),
        example_request_uri: example,
        warnings,
    })
}

/// Graph API endpoint and credentials. The token is only ever put in the Authorization header.
pub struct Graph {
    pub base_url: String,
    token: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("base_url", &self.base_url)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// One Graph API answer.
#[derive(Debug, Serialize)]
pub struct GraphReply {
    pub status: u16,
    pub body: Value,
}

impl Graph {
    pub fn new(base_url: &str, token: Option<String>, timeout: Duration) -> Result<Self, CliError> {
        let token = token.filter(|t| !t.trim().is_empty()).ok_or_else(|| {
            CliError::Usage("no Graph API token: set WACALL_GRAPH_TOKEN, or pass --token-file FILE or --token TOKEN".into())
        })?;
        let base_url = base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(CliError::Usage(format!(
                "Graph URL {base_url:?} must start with https://"
            )));
        }
        Ok(Self {
            base_url,
            token: token.trim().to_string(),
            timeout,
        })
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("wacall/", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    }

    fn finish(
        &self,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<GraphReply, CliError> {
        let mut resp = r.map_err(|e| {
            CliError::Network(self.scrub(&format!("Graph API {}: {e}", self.base_url)))
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| CliError::Network(format!("reading Graph API reply: {e}")))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(self.scrub(&text)));
        if !(200..300).contains(&status) {
            return Err(CliError::Graph {
                status,
                message: self.scrub(&graph_error(&body)),
            });
        }
        Ok(GraphReply { status, body })
    }

    /// Never let the token reach the terminal, even if a server echoes it back.
    fn scrub(&self, s: &str) -> String {
        s.replace(&self.token, "<token>")
    }

    /// `GET /<id>/settings[?include_sip_credentials=true]`.
    pub fn get(&self, phone_id: &str, include_credentials: bool) -> Result<GraphReply, CliError> {
        let url = format!("{}/{phone_id}/settings", self.base_url);
        let mut req = self
            .agent()
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token));
        if include_credentials {
            req = req.query("include_sip_credentials", "true");
        }
        self.finish(req.call())
    }

    /// `POST /<id>/settings` with a JSON body.
    pub fn post(&self, phone_id: &str, body: &Value) -> Result<GraphReply, CliError> {
        let url = format!("{}/{phone_id}/settings", self.base_url);
        let req = self
            .agent()
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json");
        self.finish(req.send(body.to_string().as_bytes()))
    }
}

fn graph_error(body: &Value) -> String {
    let e = &body["error"];
    if let Some(msg) = e["message"].as_str() {
        let mut s = msg.to_string();
        if let Some(code) = e["code"].as_i64() {
            s.push_str(&format!(" (code {code}"));
            if let Some(sub) = e["error_subcode"].as_i64() {
                s.push_str(&format!(", subcode {sub}"));
            }
            s.push(')');
        }
        if let Some(t) = e["fbtrace_id"].as_str() {
            s.push_str(&format!(" [fbtrace_id {t}]"));
        }
        return s;
    }
    match body {
        Value::String(s) => s.chars().take(300).collect(),
        other => other.to_string().chars().take(300).collect(),
    }
}

/// Replaces every `sip_user_password` with a mask unless the operator asked to see it.
pub fn mask_passwords(v: &mut Value, show: bool) -> usize {
    let mut n = 0;
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k == "sip_user_password" {
                    n += 1;
                    if !show {
                        if let Value::String(s) = val {
                            *s = mask(s);
                        }
                    }
                } else {
                    n += mask_passwords(val, show);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                n += mask_passwords(x, show);
            }
        }
        _ => {}
    }
    n
}

fn mask(s: &str) -> String {
    format!(
        "{} ({} characters; --show-password to reveal)",
        "*".repeat(8),
        s.chars().count()
    )
}

/// Reads the SIP servers out of a GET reply, for the human summary.
pub fn summarize(body: &Value) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let calling = &body["calling"];
    if calling.is_null() {
        let _ = writeln!(s, "no calling settings in the reply");
        return s;
    }
    let _ = writeln!(
        s,
        "calling status        {}",
        calling["status"].as_str().unwrap_or("-")
    );
    let _ = writeln!(
        s,
        "srtp key exchange     {}",
        calling["srtp_key_exchange_protocol"]
            .as_str()
            .unwrap_or("(not set: DTLS)")
    );
    let sip = &calling["sip"];
    let _ = writeln!(
        s,
        "sip status            {}",
        sip["status"].as_str().unwrap_or("-")
    );
    let servers = sip["servers"].as_array().cloned().unwrap_or_default();
    if servers.len() > 1 {
        let _ = writeln!(
            s,
            "WARNING: {} SIP servers configured (by different apps): Meta ends the call on a BYE from any of them; \
             keep one",
            servers.len()
        );
    }
    for (i, srv) in servers.iter().enumerate() {
        let _ = writeln!(
            s,
            "server #{i}             {}:{}",
            srv["hostname"].as_str().unwrap_or("-"),
            srv["port"]
                .as_u64()
                .map(|p| p.to_string())
                .or_else(|| srv["port"].as_str().map(str::to_string))
                .unwrap_or_else(|| "5061".into())
        );
        if let Some(app) = srv.get("app_id") {
            let _ = writeln!(
                s,
                "  app_id              {}",
                app.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| app.to_string())
            );
        }
        if let Some(p) = srv["request_uri_user_params"].as_object() {
            for (k, v) in p {
                let _ = writeln!(s, "  user param          {k}={}", v.as_str().unwrap_or("?"));
            }
        }
        if let Some(pw) = srv["sip_user_password"].as_str() {
            let _ = writeln!(s, "  sip_user_password   {pw}");
        }
    }
    s
}
