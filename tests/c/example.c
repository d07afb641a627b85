/* A C host using wacall: Meta's R-URI, the answer to Meta's 407, an inbound R-URI, SDP mapping, and errors.
 * Built and run by tests/c_abi.rs (cc example.c -I include -L target/debug -lwacall); also the C API's example. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wacall.h>

static int failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            char msg_[256];                                                      \
            wacall_last_error_message(msg_, sizeof msg_);                        \
            fprintf(stderr, "FAILED %s:%d: %s (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, msg_);                                      \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static const char META_OFFER[] =
    "v=0\r\no=- 1741113186367 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE audio\r\na=ice-lite\r\n"
    "m=audio 3480 UDP/TLS/RTP/SAVPF 111 126\r\nc=IN IP4 57.144.135.35\r\n"
    "a=candidate:1775469887 1 udp 2122260223 57.144.135.35 3480 typ host generation 0\r\n"
    "a=ice-ufrag:RmDDkfzkwbexPfbC\r\na=ice-pwd:Xk3vP9qLm2Rt7wYz4BnC8dFh\r\n"
    "a=fingerprint:sha-256 3C:4E:0B:9A:61:F2:7D:E8:25:AA:90:1B:C4:57:D3:8E:6F:02:BD:49:71:C8:3A:E5:16:9F:0D:62:A7:B4:58:E1\r\n"
    "a=setup:actpass\r\na=mid:audio\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=20;useinbandfec=1\r\na=rtpmap:126 telephone-event/8000\r\na=ptime:20\r\n";

int main(void) {
    char buf[1024];
    size_t written = 0;
    wacall_result r;

    printf("wacall %s\n", wacall_version());

    /* Business-initiated call: Meta's R-URI from a number as a PBX user dialled it. */
    r = wacall_meta_request_uri("+1 219-555-0714", NULL, buf, sizeof buf, &written);
    CHECK(r == WACALL_OK && strcmp(buf, "sip:+12195550714@wa.meta.vc;transport=tls") == 0);
    char ruri[128];
    strcpy(ruri, buf);

    /* Too small a buffer tells the size needed; a NULL/0 buffer is a size query. */
    r = wacall_meta_request_uri("+12195550714", NULL, buf, 8, &written);
    CHECK(r == WACALL_ERR_BUFFER_TOO_SMALL && written == strlen(ruri) && buf[0] == '\0');
    r = wacall_meta_request_uri("+12195550714", NULL, NULL, 0, &written);
    CHECK(r == WACALL_ERR_BUFFER_TOO_SMALL && written == strlen(ruri));

    /* Errors: a code, its name, and a message. */
    r = wacall_meta_request_uri("call me maybe", NULL, buf, sizeof buf, &written);
    CHECK(r == WACALL_ERR_SIP && strcmp(wacall_result_name((uint32_t)r), "WACALL_ERR_SIP") == 0);
    char msg[256];
    size_t need = wacall_last_error_message(msg, sizeof msg);
    CHECK(need > 0 && strstr(msg, "wacall_meta_request_uri") != NULL);
    CHECK(wacall_meta_request_uri(NULL, NULL, buf, sizeof buf, &written) == WACALL_ERR_NULL_ARGUMENT);

    /* Meta's 407: SHA-256 and MD5 challenges; the answer uses SHA-256 and the number without '+'. */
    const char *challenges[] = {
        "Digest realm=\"wa.meta.vc\",nonce=\"419ac2415577f8e1\",algorithm=SHA-256,qop=\"auth\"",
        "Digest realm=\"wa.meta.vc\",nonce=\"419ac2415577f8e1\",algorithm=MD5,qop=\"auth\"",
    };
    r = wacall_meta_digest_respond(challenges, 2, "+17125550259", "s3cret", "INVITE", ruri, buf, sizeof buf,
                                   &written);
    CHECK(r == WACALL_OK && strstr(buf, "username=\"17125550259\"") && strstr(buf, "algorithm=SHA-256"));

    /* A call from Meta: the called number and the trunk group. */
    const char *inbound = "sip:+15551234567;tgrp=wacall;trunk-context=byoc.example.com@sip.example.com";
    r = wacall_inbound_number(inbound, buf, sizeof buf, NULL);
    CHECK(r == WACALL_OK && strcmp(buf, "+15551234567") == 0);
    r = wacall_inbound_user_param(inbound, "tgrp", buf, sizeof buf, NULL);
    CHECK(r == WACALL_OK && strcmp(buf, "wacall") == 0);
    char *json = NULL;
    r = wacall_inbound_ruri_json(inbound, &json);
    CHECK(r == WACALL_OK && json != NULL && strstr(json, "\"trunk-context\",\"byoc.example.com\""));
    wacall_string_free(json);

    /* Meta's DTLS offer mapped to an SDES offer for the PBX. */
    wacall_media_allocation alloc;
    memset(&alloc, 0, sizeof alloc);
    alloc.meta_side = "203.0.113.10:40000";
    alloc.pbx_side = "10.0.0.5:30000";
    alloc.ice_ufrag = "wAcALl01";
    alloc.ice_pwd = "abcdefghijklmnopqrstuvwx";
    alloc.dtls_fingerprint_sha256 =
        "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
    wacall_map_config cfg;
    memset(&cfg, 0, sizeof cfg); /* zeroed: the defaults */
    char *pbx_offer = NULL;
    r = wacall_sdp_meta_offer_to_pbx(META_OFFER, &alloc, &cfg, &pbx_offer);
    CHECK(r == WACALL_OK && pbx_offer && strstr(pbx_offer, "m=audio 30000 RTP/SAVP 111 126"));
    wacall_string_free(pbx_offer);

    wacall_stats stats;
    CHECK(wacall_stats_get(&stats) == WACALL_OK && stats.null_argument >= 1 && stats.panics == 0);

    if (failures == 0) {
        printf("example.c: all checks passed\n");
    }
    return failures == 0 ? 0 : 1;
}
