//! The example configuration under conf/ parses as mod_wacall reads it (same `Config::from_node` as at load),
//! and the dialplan and sofia profile are well-formed XML using only the applications the module registers.

use mod_wacall::config::{Config, SrtpMode};
use mod_wacall::host::ConfigNode;

#[derive(Clone, Copy)]
struct Node<'a, 'i>(roxmltree::Node<'a, 'i>);

impl ConfigNode for Node<'_, '_> {
    fn child(&self, name: &str) -> Option<Self> {
        self.0.children().find(|c| c.has_tag_name(name)).map(Node)
    }
    fn children(&self, name: &str) -> Vec<Self> {
        self.0
            .children()
            .filter(|c| c.has_tag_name(name))
            .map(Node)
            .collect()
    }
    fn attr(&self, name: &str) -> Option<String> {
        self.0
            .attribute(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

fn read(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn example_wacall_conf_parses() {
    let text = read("conf/autoload_configs/wacall.conf.xml");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.attribute("name"), Some("wacall.conf"));
    let cfg = Config::from_node(&Node(root)).expect("every setting known and valid");
    assert_eq!(cfg.profile, "wacall-meta");
    assert_eq!(cfg.relay_ports, (43000, 43999));
    assert_eq!(cfg.numbers.len(), 1);
    assert_eq!(cfg.numbers[0].e164, "+15551234567");
    assert_eq!(cfg.numbers[0].srtp, SrtpMode::Dtls);
    assert_eq!(cfg.numbers[0].gateway.as_deref(), Some("wa-15551234567"));
}

#[test]
fn example_dialplan_and_profile_are_well_formed() {
    let dp = read("conf/dialplan/wacall.xml");
    let doc = roxmltree::Document::parse(&dp).expect("dialplan XML");
    let apps: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("action"))
        .filter_map(|n| n.attribute("application"))
        .collect();
    for a in [
        "wacall_from_meta",
        "wacall_relay",
        "wacall_to_meta",
        "bridge",
    ] {
        assert!(apps.contains(&a), "{a} not used in the example dialplan");
    }
    for a in apps.iter().filter(|a| a.starts_with("wacall_")) {
        assert!(
            [
                mod_wacall::apps::FROM_META.name,
                mod_wacall::apps::TO_META.name,
                mod_wacall::apps::RELAY.name
            ]
            .contains(a),
            "{a} is not an application mod_wacall registers"
        );
    }
    let profile = read("conf/sip_profiles/wacall-meta.xml");
    let doc = roxmltree::Document::parse(&profile).expect("profile XML");
    let param = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("param") && n.attribute("name") == Some(name))
            .and_then(|n| n.attribute("value"))
    };
    assert_eq!(
        param("enable-timer"),
        Some("false"),
        "Meta answers re-INVITE/UPDATE with 500"
    );
    assert_eq!(param("tls-only"), Some("true"));
    assert_eq!(param("realm"), Some("wa.meta.vc"));
    assert_eq!(
        param("username"),
        Some("15551234567"),
        "digest username is the number without +"
    );
}
