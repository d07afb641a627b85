use wacall::sdp::*;
fn main() {
    let f = |n: &str| std::fs::read_to_string(format!("tests/fixtures/sdp/{n}")).unwrap();
    let mut a = MediaAllocation::new("203.0.113.10:40000".parse().unwrap(), "192.0.2.10:30000".parse().unwrap(), "wAcL", "0123456789abcdefABCDEF+/", "3c:4e:0B:9A:61:F2:7D:E8:25:AA:90:1B:C4:57:D3:8E:6F:02:BD:49:71:C8:3A:E5:16:9F:0D:62:A7:B4:58:E1");
    a.meta_advertised = vec![
        "203.0.113.10:40000".parse().unwrap(),
        "[2001:db8::10]:40000".parse().unwrap(),
    ];
    let cfg = MapConfig::default();
    let m1 = meta_offer_to_pbx(&f("meta_offer_dtls.sdp"), &a, &cfg).unwrap();
    println!("--- 1\n{}{:#?}", m1.sdp, m1.plan);
    let ans = f("twilio_answer_1.sdp");
    // make twilio answer reply to our crypto
    let ours = Sdp::parse(&m1.sdp).unwrap();
    let oc = ours
        .audio()
        .unwrap()
        .media
        .attribute("crypto")
        .unwrap()
        .to_owned();
    let ans = ans.lines().map(|l| if l.starts_with("a=crypto") { format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19mdGd4TGpGeXJIaHp0b0RqNnBIcGJYZzBn") } else { l.to_string() }).collect::<Vec<_>>().join("\r\n") + "\r\n";
    let _ = oc;
    let m2 = pbx_answer_to_meta(&f("meta_offer_dtls.sdp"), &m1.sdp, &ans, &a, &cfg).unwrap();
    println!("--- 2\n{}{:#?}", m2.sdp, m2.plan);
    let m3 = pbx_offer_to_meta(&f("twilio_offer_to_meta.sdp"), &a, &cfg).unwrap();
    println!("--- 3\n{}", m3.sdp);
    let cfg2 = MapConfig::new(PbxMedia::Rtp, MetaMedia::Sdes);
    let m3b = pbx_offer_to_meta(&f("twilio_offer_to_meta.sdp"), &a, &cfg2).unwrap();
    println!("--- 3b\n{}", m3b.sdp);
    let mans = f("meta_answer_sdes.sdp");
    let oc = Sdp::parse(&m3b.sdp)
        .unwrap()
        .audio()
        .unwrap()
        .media
        .attribute("crypto")
        .unwrap()
        .to_owned();
    let _ = oc;
    let m4 =
        meta_answer_to_pbx(&f("twilio_offer_to_meta.sdp"), &m3b.sdp, &mans, &a, &cfg2).unwrap();
    println!("--- 4\n{}{:#?}", m4.sdp, m4.plan);
}
