//! Dialplan applications: `wacall_from_meta` (a call from Meta exposes its number, user parameters and Meta's
//! headers as channel variables) and `wacall_to_meta` (a call to Meta gets its R-URI, dial string and credentials).

use crate::config::{Config, Number};
use crate::meta;

/// Channel variables, as the applications see them; `host::Channel` in FreeSWITCH, a map in tests.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
    fn set(&self, name: &str, value: Option<&str>);
}

/// One dialplan application: name, descriptions and syntax as `show application` lists them.
pub struct App {
    pub name: &'static str,
    pub short_desc: &'static str,
    pub long_desc: &'static str,
    pub syntax: &'static str,
}

pub const FROM_META: App = App {
    name: "wacall_from_meta",
    short_desc: "Read a WhatsApp call from Meta into channel variables",
    long_desc: "Sets wacall_number, wacall_tgrp, wacall_trunk_context, wacall_param_<key>, wacall_wacid, \
                wacall_cta_payload, wacall_deeplink_payload, wacall_known and wacall_srtp from the INVITE's \
                request URI (sip_req_user or destination_number) and Meta's x-wa-meta-* headers.",
    syntax: "",
};

pub const TO_META: App = App {
    name: "wacall_to_meta",
    short_desc: "Prepare a WhatsApp call to Meta",
    long_desc: "Sets wacall_ruri (sip:+<E164>@wa.meta.vc;transport=tls), wacall_dial_string (the number's sofia \
                gateway, or the configured profile and the R-URI) and, without a gateway, the digest credentials \
                (exported to the B-leg) of the business number placing the call.",
    syntax: "<number> [business-number]",
};

pub const RELAY: App = App {
    name: "wacall_relay",
    short_desc: "Bridge a WhatsApp call through wacall's media relay",
    long_desc: "",
    syntax: "[from-meta|to-meta]",
};

/// Meta's headers: (header name, variable set by wacall_from_meta).
const META_HEADERS: [(&str, &str); 4] = [
    ("x-wa-meta-wacid", "wacall_wacid"),
    ("x-wa-meta-cta-payload", "wacall_cta_payload"),
    ("x-wa-meta-deeplink-payload", "wacall_deeplink_payload"),
    ("x-wa-meta-call-duration", "wacall_call_duration"),
];

/// A header of the INVITE as sofia exposes it: `sip_h_X-*` for X- headers, `sip_i_*` with parse-all-invite-headers.
/// Channel variable names are case-insensitive in FreeSWITCH, so one spelling suffices.
fn sip_header(vars: &dyn Vars, name: &str) -> Option<String> {
    vars.get(&format!("sip_h_{name}"))
        .or_else(|| vars.get(&format!("sip_i_{name}")))
}

/// `wacall_from_meta`: returns a line for the log.
pub fn from_meta(vars: &dyn Vars, cfg: &Config) -> Result<String, String> {
    let user = vars
        .get("sip_req_user")
        .or_else(|| vars.get("destination_number"))
        .ok_or("no sip_req_user or destination_number on this channel")?;
    let host = vars.get("sip_req_host").unwrap_or_default();
    let called = meta::parse_called(&user, &host)?;
    vars.set("wacall_number", Some(&called.number));
    for (k, v) in &called.params {
        match k.as_str() {
            "tgrp" => vars.set("wacall_tgrp", Some(v)),
            "trunk-context" => vars.set("wacall_trunk_context", Some(v)),
            _ => {}
        }
        let key: String = k
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        vars.set(&format!("wacall_param_{key}"), Some(v));
    }
    for (header, var) in META_HEADERS {
        if let Some(v) = sip_header(vars, header) {
            vars.set(var, Some(&v));
        }
    }
    let known = cfg.number(&called.number);
    vars.set(
        "wacall_known",
        Some(if known.is_some() { "true" } else { "false" }),
    );
    let srtp = known.map_or(cfg.default_srtp, |n| n.srtp);
    vars.set("wacall_srtp", Some(srtp.as_str()));
    Ok(format!(
        "call from Meta to {} ({}), {} user parameter(s), wacid {}",
        called.number,
        if known.is_some() {
            "configured"
        } else {
            "not configured"
        },
        called.params.len(),
        vars.get("wacall_wacid").as_deref().unwrap_or("-")
    ))
}

/// `wacall_to_meta <number> [business-number]`: returns a line for the log (no secrets).
pub fn to_meta(vars: &dyn Vars, cfg: &Config, args: &str) -> Result<String, String> {
    let mut it = args.split_whitespace();
    let callee = it.next().ok_or("a number to call expected")?;
    let ruri = meta::meta_ruri(callee, cfg)?;
    let business = business_number(vars, cfg, it.next())?;
    vars.set("wacall_ruri", Some(&ruri));
    vars.set("wacall_business_number", Some(&business.e164));
    let dial = match &business.gateway {
        Some(gw) => format!("sofia/gateway/{gw}/{}", meta::to_e164(callee, cfg)?),
        None => {
            // Meta's digest username is the number without '+'; sofia reads these on the B-leg's 407.
            let password = business
                .password
                .as_deref()
                .ok_or_else(|| format!("{} has neither a gateway nor a password", business.e164))?;
            vars.set(
                "sip_auth_username",
                Some(business.e164.trim_start_matches('+')),
            );
            vars.set("sip_auth_password", Some(password));
            export(vars, &["sip_auth_username", "sip_auth_password"]);
            format!("sofia/{}/{ruri}", cfg.profile)
        }
    };
    vars.set("wacall_dial_string", Some(&dial));
    Ok(format!(
        "call to Meta {ruri} from {} via {dial}",
        business.e164
    ))
}

/// The business number placing the call: the argument, `wacall_business_number`, or the only one configured.
fn business_number<'c>(
    vars: &dyn Vars,
    cfg: &'c Config,
    arg: Option<&str>,
) -> Result<&'c Number, String> {
    let wanted = arg
        .map(str::to_string)
        .or_else(|| vars.get("wacall_business_number"));
    match wanted {
        Some(w) => cfg
            .number(&w)
            .ok_or_else(|| format!("business number {w} is not configured")),
        None if cfg.numbers.len() == 1 => Ok(&cfg.numbers[0]),
        None => Err(
            "which business number? give it as second argument or set wacall_business_number"
                .into(),
        ),
    }
}

/// Add names to `export_vars` (copied to B-legs by bridge/originate) without duplicates.
pub(crate) fn export(vars: &dyn Vars, names: &[&str]) {
    let mut list: Vec<String> = vars
        .get("export_vars")
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for n in names {
        if !list.iter().any(|x| x == n) {
            list.push(n.to_string());
        }
    }
    vars.set("export_vars", Some(&list.join(",")));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::sample;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Map(RefCell<HashMap<String, String>>);
    impl Vars for Map {
        fn get(&self, name: &str) -> Option<String> {
            self.0.borrow().get(&name.to_ascii_lowercase()).cloned()
        }
        fn set(&self, name: &str, value: Option<&str>) {
            let mut m = self.0.borrow_mut();
            match value {
                Some(v) => m.insert(name.to_ascii_lowercase(), v.to_string()),
                None => m.remove(&name.to_ascii_lowercase()),
            };
        }
    }

    #[test]
    fn from_meta_sets_variables() {
        let cfg = Config::from_node(&sample()).unwrap();
        let v = Map::default();
        v.set(
            "sip_req_user",
            Some("+15551234567;tgrp=wa;trunk-context=example.com;x-id=7"),
        );
        v.set("sip_h_X-WA-Meta-WACID", Some("wacid.ABC"));
        v.set("sip_i_x-wa-meta-cta-payload", Some("promo"));
        let line = from_meta(&v, &cfg).unwrap();
        assert!(line.contains("configured"), "{line}");
        assert_eq!(v.get("wacall_number").unwrap(), "+15551234567");
        assert_eq!(v.get("wacall_tgrp").unwrap(), "wa");
        assert_eq!(v.get("wacall_trunk_context").unwrap(), "example.com");
        assert_eq!(v.get("wacall_param_trunk_context").unwrap(), "example.com");
        assert_eq!(v.get("wacall_param_x_id").unwrap(), "7");
        assert_eq!(v.get("wacall_wacid").unwrap(), "wacid.ABC");
        assert_eq!(v.get("wacall_cta_payload").unwrap(), "promo");
        assert_eq!(v.get("wacall_known").unwrap(), "true");
        assert_eq!(v.get("wacall_srtp").unwrap(), "DTLS");
        assert!(v.get("wacall_deeplink_payload").is_none());
    }

    #[test]
    fn from_meta_rejects_non_numbers() {
        let cfg = Config::default();
        let v = Map::default();
        assert!(from_meta(&v, &cfg).is_err());
        v.set("destination_number", Some("alice"));
        assert!(from_meta(&v, &cfg).is_err());
    }

    #[test]
    fn to_meta_with_gateway_and_with_password() {
        let cfg = Config::from_node(&sample()).unwrap();
        let v = Map::default();
        let line = to_meta(&v, &cfg, "0044 20 7946 0000 +15551234567").unwrap_err();
        // Arguments are split at spaces: "0044" is the callee here, and too short.
        assert!(line.contains("invalid phone number \"0044\""), "{line}");

        to_meta(&v, &cfg, "+442079460000 +15551234567").unwrap();
        assert_eq!(
            v.get("wacall_ruri").unwrap(),
            "sip:+442079460000@wa.meta.vc;transport=tls"
        );
        assert_eq!(
            v.get("wacall_dial_string").unwrap(),
            "sofia/gateway/wa1/+442079460000"
        );
        assert!(v.get("sip_auth_password").is_none());

        let line = to_meta(&v, &cfg, "+442079460000 15550001111");
        assert!(line
            .unwrap_err()
            .contains("neither a gateway nor a password"));

        let mut cfg2 = cfg.clone();
        cfg2.numbers[1].password = Some("pw2".into());
        let v = Map::default();
        v.set("export_vars", Some("foo"));
        let line = to_meta(&v, &cfg2, "+442079460000 +15550001111").unwrap();
        assert!(!line.contains("pw2"));
        assert_eq!(
            v.get("wacall_dial_string").unwrap(),
            "sofia/meta/sip:+442079460000@wa.meta.vc;transport=tls"
        );
        assert_eq!(v.get("sip_auth_username").unwrap(), "15550001111");
        assert_eq!(
            v.get("export_vars").unwrap(),
            "foo,sip_auth_username,sip_auth_password"
        );
    }

    #[test]
    fn to_meta_needs_a_business_number_when_several() {
        let cfg = Config::from_node(&sample()).unwrap();
        let v = Map::default();
        assert!(to_meta(&v, &cfg, "+442079460000")
            .unwrap_err()
            .contains("which business number"));
        v.set("wacall_business_number", Some("+15551234567"));
        assert!(to_meta(&v, &cfg, "+442079460000").is_ok());
        assert!(to_meta(&v, &cfg, "").is_err());
    }
}
