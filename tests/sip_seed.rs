//! The seed's SIP traces (Meta's documentation) as fixtures for the sip layer: every URI round-trips byte for byte,
//! messages are read, Meta's R-URI rules hold. Blank lines between headers and bodies, lost in the seed, are restored.

use wacall::sip::{
    self, meta_request_uri, parse_inbound_request_uri, request_uri_user_params_json, Message,
    NameAddr, NumberPolicy, Uri,
};

/// Every URI in the seed's traces (request-URIs and `<...>` URIs of From/To/Contact/Route/Record-Route).
const SEED_URIS: &[&str] = &[
    "sip:+12145551869@172.25.10.217:5060;transport=udp",
    "sip:+12145551869@meta-voip.example.com",
    "sip:+12145551869@meta-voip.example.com;transport=tls",
    "sip:+12195550714@wa.meta.vc",
    "sip:+12195550714@wa.meta.vc;transport=tls",
    "sip:+12195550714@wa.meta.vc;transport=tls;ob",
    "sip:+12195550714@wa.meta.vc;transport=tls;ob;X-FB-Sip-Smc-Tier=collaboration.sip_gateway.sip.prod",
    "sip:+159.65.244.171:5061;transport=tls;lr;ftag=Kc9QZg4496maQ;nat=yes",
    "sip:+17015558857@meta-voip.example.com",
    "sip:+17015558857@meta-voip.example.com;transport=tls",
    "sip:+17125550259@meta-voip.example.com",
    "sip:+17125550259@wa.meta.vc",
    "sip:+172.25.16.223:5060",
    "sip:+172.25.43.84:5060",
    "sip:+172.25.58.54:5060",
    "sip:+5559800000693@wa.meta.vc",
    "sip:+5559800000693@wa.meta.vc;transport=tls;ob",
    "sip:54.172.60.0:5060;lr;r2=on;twnat=sip:69.171.251.112:62080",
    "sip:54.172.60.0:5061;transport=tls;lr;r2=on;twnat=sip:69.171.251.112:62080",
    "sip:54.172.60.1:5060;lr;r2=on;twnat=sip:69.171.251.115:51830",
    "sip:54.172.60.1:5061;transport=tls;lr;r2=on",
    "sip:54.172.60.1:5061;transport=tls;lr;r2=on;twnat=sip:69.171.251.115:51830",
    "sip:54.172.60.1;lr;r2=on",
    "sip:mod_sofia@137.184.87.1:35181;transport=tls;swrad=137.184.87.1~56533~3",
    "sip:onevc-sip-proxy-dev.fbinfra.net:8191;transport=tls;lr",
    "sip:onevc-sip-proxy.fbinfra.net:8191;transport=tls;lr",
    "sip:wa.meta.vc;transport=tls;lr",
    "sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com",
];

const INVITE_TO_META: &str = "INVITE sip:+12195550714@wa.meta.vc;transport=tls SIP/2.0\r
Record-Route: <sip:+159.65.244.171:5061;transport=tls;lr;ftag=Kc9QZg4496maQ;nat=yes>\r
Via: SIP/2.0/TLS 159.65.244.171:5061;received=2803:6081:798c:93f8:5f9b:bfe8:300:0;branch=z9hG4bK0da2.36614b8977461b486ceabc004c723476.0;i=617261\r
Via: SIP/2.0/TLS 137.184.87.1:35181;rport=56533;received=137.184.87.1;branch=z9hG4bKQNa6meey5Dj2g\r
Max-Forwards: 69\r
From: <sip:+17125550259@meta-voip.example.com>;tag=Kc9QZg4496maQ\r
To: <sip:+12195550714@wa.meta.vc>\r
Call-ID: dc2c5b33-1b81-43ee-9213-afb56f4e56ba\r
CSeq: 96743476 INVITE\r
Contact: <sip:mod_sofia@137.184.87.1:35181;transport=tls;swrad=137.184.87.1~56533~3>\r
User-Agent: SignalWire\r
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY\r
Supported: timer, path, replaces\r
Allow-Events: talk, hold, conference, refer\r
Session-Expires: 600;refresher=uac\r
Min-SE: 90\r
Content-Type: application/sdp\r
Content-Disposition: session\r
Content-Length: 2427\r
X-Relay-Call-ID: dc2c5b33-1b81-43ee-9213-afb56f4e56ba\r
Remote-Party-ID: <sip:+17125550259@meta-voip.example.com>;party=calling;screen=yes;privacy=off\r
Content-Type: application/sdp\r
Content-Length: 2427\r
\r
<<SDP omitted for brevity>>";

const BYE_TO_META: &str = "BYE sip:+5559800000693@wa.meta.vc;transport=tls;ob SIP/2.0\r
Via: SIP/2.0/TLS 137.184.4.155:5061;received=2803:6080:c074:cac:10ed:4b05:400:0;i=8d2dc2\r
Via: SIP/2.0/TLS 143.198.136.243:35181;rport=38087;received=143.198.136.243\r
Route: <sip:wa.meta.vc;transport=tls;lr>\r
Route: <sip:onevc-sip-proxy.fbinfra.net:8191;transport=tls;lr>\r
Max-Forwards: 69\r
From: <sip:+12145551869@meta-voip.example.com>;tag=NcKQ6mtDKSDQB\r
To: \"5559800000693\" <sip:+5559800000693@wa.meta.vc>;tag=92a01092-ee78-4870-865f-bc176203a6bd\r
Call-ID: outgoing:wacid.HBgPMjAwNzU2OTA0ODY5OTY1FRIAEhggMjQ4QzUwOUQ1REQ0NDUwNENEQzRFMTgwRTNGQjAwNjEcGAsxMjE0NTU1MTg2ORUCAAA\r
CSeq: 98734935 BYE\r
User-Agent: SignalWire\r
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, NOTIFY\r
Supported: timer, path, replaces\r
Reason: Q.850;cause=16;text=\"NORMAL_CLEARING\"\r
Content-Length: 0\r
X-Relay-Call-ID: b72c0c65-e319-41b3-afb7-19ebcca05d38\r
Content-Length: 0\r
\r
";

const RESPONSE_403: &str = "SIP/2.0 403 SIP server wa.meta.vc from INVITE does not match any SIP server configured for phone number id {ID}\n\
Via: SIP/2.0/TLS [2803:6080:c954:b533:ecfb:5cec:300:0]:39459;rport=39459;received=2803:6080:c954:b533:ecfb:5cec:300:0;branch=z9hG4bKPjf9f3d0bddb3dbe0c9b1e3b486f39784a;alias\n\
Record-Route: <sip:onevc-sip-proxy-dev.fbinfra.net:8191;transport=tls;lr>\n\
Record-Route: <sip:wa.meta.vc;transport=tls;lr>\n\
Call-ID: 91578781-44f1-4268-9a7f-d7efec1abf72\n\
From: <sip:+17125550259@wa.meta.vc>;tag=3a63b370-a697-4a5a-82b4-e8105e23f176\n\
To: <sip:+12195550714@wa.meta.vc>;tag=e0d30a05-657b-47ec-a668-e05ca79f9f05\n\
CSeq: 15659 INVITE\n\
Allow: INVITE, ACK, BYE, CANCEL, NOTIFY, OPTIONS\n\
X-FB-External-Domain: wa.meta.vc\n\
Warning: 399 wa.meta.vc \"SIP server wa.meta.vc from INVITE does not match any SIP server configured for phone number id {ID}\"\n\
Content-Length: 0\n\n";

/// A call from Meta as the docs describe it: R-URI with the configured user parameters and Meta's headers.
const INVITE_FROM_META: &str = "INVITE sip:+1234567890;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com SIP/2.0\r
Via: SIP/2.0/TLS [2803:6080:f948:9597::]:57363;rport;branch=z9hG4bKPj3a9f2ad89e4a3df61408aa84f7d9a63e;alias\r
Record-Route: <sip:wa.meta.vc;transport=tls;lr>\r
Record-Route: <sip:onevc-sip-proxy.fbinfra.net:8191;transport=tls;lr>\r
Max-Forwards: 69\r
f: \"12195550714\" <sip:+12195550714@wa.meta.vc>;tag=8a0f7e65-6e9e-4801-bf92-85c3ef2485d9\r
t: <sip:+1234567890@sip.example.com>\r
m: <sip:+12195550714@wa.meta.vc;transport=tls;ob>;isfocus\r
i: outgoing:wacid.HBgLMTIxOTU1NTA3MTQVAgASGCA4QkY1MTJCQkNFNTgxMEVFRERFRTUzNTFERkE1MDU0MhwYCzEyMTQ1NTUxODY5FQIAAA\r
CSeq: 31159 INVITE\r
x-wa-meta-wacid: wacid.HBgLMTIxOTU1NTA3MTQVAgASGCA4QkY1MTJCQkNFNTgxMEVFRERFRTUzNTFERkE1MDU0MhwYCzEyMTQ1NTUxODY5FQIAAA\r
X-WA-Meta-CTA-Payload: order=12345;\r
  source=button\r
x-wa-meta-deeplink-payload: campaign%3Dspring\r
User-Agent: Facebook SipGateway\r
Content-Type: application/sdp\r
Content-Length: 0\r
\r
";

const BYE_FROM_META: &str = "BYE sip:+1234567890@10.0.0.5:5061;transport=tls SIP/2.0\n\
Via: SIP/2.0/TLS 31.13.66.215:5061;branch=z9hG4bKPj1\n\
From: <sip:+12195550714@wa.meta.vc>;tag=a\n\
To: <sip:+1234567890@sip.example.com>;tag=b\n\
Call-ID: outgoing:wacid.x\n\
CSeq: 2 BYE\n\
x-wa-meta-wacid: wacid.x\n\
x-wa-meta-call-duration: 73\n\
Content-Length: 0\n\n";

#[test]
fn every_seed_uri_round_trips() {
    for s in SEED_URIS {
        let u = Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(u.to_string(), *s);
        let again: Uri = u.to_string().parse().unwrap();
        assert_eq!(again, u);
    }
}

#[test]
fn seed_uri_parts() {
    let u = Uri::parse("sip:+12195550714@wa.meta.vc;transport=tls;ob;X-FB-Sip-Smc-Tier=collaboration.sip_gateway.sip.prod")
        .unwrap();
    assert_eq!(u.user(), Some("+12195550714"));
    assert_eq!(u.transport(), Some("tls"));
    assert!(u.param("OB").is_some_and(|p| p.value.is_none()));
    let rr =
        Uri::parse("sip:54.172.60.0:5061;transport=tls;lr;r2=on;twnat=sip:69.171.251.112:62080")
            .unwrap();
    assert!(rr.host_is_ip());
    assert_eq!(rr.port(), Some(5061));
    assert_eq!(
        rr.param("twnat").and_then(|p| p.value.as_deref()),
        Some("sip:69.171.251.112:62080")
    );
    // Twilio's odd Contact: a '+' in a host; read leniently, kept byte for byte.
    let c = Uri::parse("sip:+172.25.16.223:5060").unwrap();
    assert_eq!(c.user(), None);
    assert_eq!(c.host(), "+172.25.16.223");
}

#[test]
fn invite_to_meta() {
    let m = Message::parse_str(INVITE_TO_META).unwrap();
    assert_eq!(m.method(), Some("INVITE"));
    let sip::StartLine::Request { uri, .. } = m.start else {
        panic!("not a request")
    };
    let pol = NumberPolicy::default();
    // Our R-URI for this call is the one that was sent.
    assert_eq!(meta_request_uri("+1 219-555-0714", &pol).unwrap(), uri);
    let to = NameAddr::parse(m.header("To").unwrap()).unwrap();
    let ruri = Uri::parse(uri).unwrap();
    assert_eq!((to.uri.user(), to.uri.host()), (ruri.user(), ruri.host()));
    let from = NameAddr::parse(m.header("from").unwrap()).unwrap();
    assert_eq!(from.tag(), Some("Kc9QZg4496maQ"));
    assert_eq!(from.uri.host(), "meta-voip.example.com");
    assert_eq!(m.header_all("content-length").count(), 2);
    assert_eq!(m.header_values("Allow").len(), 11);
    assert_eq!(m.header_values("via").len(), 2);
    assert_eq!(m.body, b"<<SDP omitted for brevity>>");
    assert!(m.meta_headers().is_empty());
}

#[test]
fn bye_to_meta() {
    let m = Message::parse_str(BYE_TO_META).unwrap();
    assert_eq!(m.method(), Some("BYE"));
    let to = NameAddr::parse(m.header("t").unwrap()).unwrap();
    assert_eq!(to.display_name.as_deref(), Some("5559800000693"));
    assert_eq!(to.tag(), Some("92a01092-ee78-4870-865f-bc176203a6bd"));
    assert_eq!(
        m.header_values("Route"),
        [
            "<sip:wa.meta.vc;transport=tls;lr>",
            "<sip:onevc-sip-proxy.fbinfra.net:8191;transport=tls;lr>"
        ]
    );
    assert_eq!(
        m.header("reason"),
        Some("Q.850;cause=16;text=\"NORMAL_CLEARING\"")
    );
    assert!(m.body.is_empty());
}

#[test]
fn meta_403() {
    let m = Message::parse_str(RESPONSE_403).unwrap();
    assert_eq!(m.status(), Some(403));
    let sip::StartLine::Response { reason, .. } = m.start else {
        panic!("not a response")
    };
    assert!(reason.starts_with("SIP server wa.meta.vc from INVITE"));
    assert_eq!(m.header("x-fb-external-domain"), Some("wa.meta.vc"));
}

#[test]
fn call_from_meta() {
    let m = Message::parse_str(INVITE_FROM_META).unwrap();
    let sip::StartLine::Request { uri, .. } = m.start else {
        panic!("not a request")
    };
    let t = parse_inbound_request_uri(uri).unwrap();
    assert_eq!(t.number, "+1234567890");
    assert_eq!(
        t.params.iter().collect::<Vec<_>>(),
        [("tgrp", "wacall"), ("trunk-context", "byoc.example.com")]
    );
    assert_eq!(t.host, "sip.example.com");
    let mh = m.meta_headers();
    assert!(mh
        .wacid
        .as_deref()
        .is_some_and(|w| w.starts_with("wacid.HBgL")));
    assert_eq!(
        mh.cta_payload.as_deref(),
        Some("order=12345; source=button")
    );
    assert_eq!(mh.deeplink_payload.as_deref(), Some("campaign%3Dspring"));
    assert_eq!(mh.call_duration_secs, None);
    assert_eq!(m.header("Call-ID"), m.header("i"));
    let contact = NameAddr::parse(m.header("contact").unwrap()).unwrap();
    assert!(contact.param("isfocus").is_some());
    // The settings payload that makes Meta send those parameters.
    let json = request_uri_user_params_json(&t.params.0).unwrap();
    assert_eq!(
        json,
        r#"{"tgrp":"wacall","trunk-context":"byoc.example.com"}"#
    );
}

#[test]
fn bye_from_meta_duration() {
    let m = Message::parse(BYE_FROM_META.as_bytes()).unwrap();
    let mh = m.meta_headers();
    assert_eq!(mh.wacid.as_deref(), Some("wacid.x"));
    assert_eq!(mh.call_duration_secs, Some(73));
    assert_eq!(mh.call_duration_raw.as_deref(), Some("73"));
}

#[test]
fn ip_host_refused_for_meta() {
    for d in ["157.240.0.1", "[2a03:2880::1]", "2a03:2880::1"] {
        let p = NumberPolicy::default().with_meta_domain(d);
        let e = meta_request_uri("+12195550714", &p).unwrap_err();
        assert!(matches!(e, sip::Error::InvalidMetaHost(_)), "{d}: {e}");
        assert!(e.to_string().contains("not an IP address"));
    }
}

#[test]
fn errors_are_clear() {
    let e = meta_request_uri("+1 555 12", &NumberPolicy::default()).unwrap_err();
    assert!(e.to_string().contains("at least 8"), "{e}");
    let e = meta_request_uri("+1234567890123456", &NumberPolicy::default()).unwrap_err();
    assert!(e.to_string().contains("at most 15"), "{e}");
    let e = meta_request_uri("0115551234567", &NumberPolicy::default()).unwrap_err();
    assert!(e.to_string().contains("cannot start with 0"), "{e}");
}
