//! `wacall_*` SIP exports: Meta's request-URI and E.164 numbers, the called number and RFC 4904 user parameters of
//! calls from Meta, the `request_uri_user_params` settings payload, and header lookups (Meta's `x-wa-meta-*`).
#![allow(unsafe_code)]

use std::ffi::c_char;
use std::fmt::Write as _;

use super::guard::{
    guard, opt_str_arg, str_arg, FfiError, OutBuf, OutString, WACALL_MAX_SIP_STRING,
};
use super::wacall_result;
use crate::sip::{self, NumberPolicy};

/// Largest raw SIP message accepted by the message readers, in bytes (a UDP datagram's maximum).
pub const WACALL_MAX_SIP_MESSAGE: usize = 65535;

/// How to read phone numbers that lack a `+`, and Meta's domain. A zeroed struct (or a NULL pointer) gives the
/// defaults: international prefix `00`, no national numbers, at least 8 digits, domain `wa.meta.vc`.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wacall_number_policy {
    /// Comma-separated international call prefixes replaced by `+` (e.g. `"00,011"`). NULL: `"00"`; `""`: none.
    pub international_prefixes: *const c_char,
    /// Country code (digits) for national numbers, e.g. `"44"`. NULL: national numbers are not recognised.
    pub default_country_code: *const c_char,
    /// National trunk prefix stripped before the country code is prepended, e.g. `"0"`. NULL: only numbers starting
    /// with 0 are national. Used only with `default_country_code`.
    pub national_prefix: *const c_char,
    /// Fewest digits accepted, country code included. 0: the default (8).
    pub min_digits: u32,
    /// Meta's domain, optionally with `:port`; never an IP address. NULL: `"wa.meta.vc"`.
    pub meta_domain: *const c_char,
}

/// # Safety
/// `p` is NULL or valid with NUL-terminated (or NULL) strings.
unsafe fn policy(p: *const wacall_number_policy) -> Result<NumberPolicy, FfiError> {
    let mut out = NumberPolicy::default();
    // SAFETY: per the contract.
    let Some(p) = (unsafe { p.as_ref() }) else {
        return Ok(out);
    };
    // SAFETY (block): string fields per the contract.
    unsafe {
        let arg = |ptr, name| opt_str_arg(ptr, name, WACALL_MAX_SIP_STRING);
        if let Some(list) = arg(p.international_prefixes, "policy->international_prefixes")? {
            out = out.with_international_prefixes(
                list.split(',').map(str::trim).filter(|s| !s.is_empty()),
            );
        }
        if let Some(cc) = arg(p.default_country_code, "policy->default_country_code")? {
            let np = arg(p.national_prefix, "policy->national_prefix")?;
            out = out.with_national(cc.trim(), np.map(str::trim));
        }
        if let Some(d) = arg(p.meta_domain, "policy->meta_domain")? {
            out = out.with_meta_domain(d);
        }
    }
    if p.min_digits != 0 {
        out.min_digits = p.min_digits as usize;
    }
    Ok(out)
}

/// Meta's request-URI for a business-initiated call, from a number in any common form (`+1 555-123-4567`,
/// `0015551234567`, `15551234567`, `tel:`/`sip:` URIs): `sip:+15551234567@wa.meta.vc;transport=tls`. Use the same
/// string as the digest `uri`. `WACALL_ERR_SIP` for a number that is not E.164 or a domain that is an IP address.
/// `policy` may be NULL. Output: caller buffer (64 bytes are enough with the default domain).
///
/// # Safety
/// `number` NUL-terminated (or NULL); `policy` NULL or valid; `out` writable for `out_len` bytes; `written` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_meta_request_uri(
    number: *const c_char,
    policy: *const wacall_number_policy,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_meta_request_uri", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let number = str_arg(number, "number", WACALL_MAX_SIP_STRING)?;
        let policy = self::policy(policy)?;
        out.write(&sip::meta_request_uri(number, &policy)?)
    })
}

/// A phone number in E.164 form with its `+` (`"+15551234567"`), read under `policy` (NULL: defaults).
/// `WACALL_ERR_SIP` when it is not a valid E.164 number. Output: caller buffer (17 bytes are enough).
///
/// # Safety
/// As for `wacall_meta_request_uri`.
#[no_mangle]
pub unsafe extern "C" fn wacall_e164_normalize(
    number: *const c_char,
    policy: *const wacall_number_policy,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_e164_normalize", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let number = str_arg(number, "number", WACALL_MAX_SIP_STRING)?;
        let policy = self::policy(policy)?;
        out.write(sip::normalize_e164(number, &policy)?.as_str())
    })
}

/// Meta's digest username for a business number: its E.164 digits without `+` (`"15551234567"`). Output: caller
/// buffer (16 bytes are enough).
///
/// # Safety
/// `number` NUL-terminated (or NULL); `out` writable for `out_len` bytes; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_meta_digest_username(
    number: *const c_char,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_meta_digest_username", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let number = str_arg(number, "number", WACALL_MAX_SIP_STRING)?;
        out.write(&sip::meta_digest_username(number)?)
    })
}

/// The called number of a call from Meta: the R-URI's user part without user parameters, unescaped
/// (`sip:+1234567890;tgrp=wacall@sip.example.com` gives `"+1234567890"`). Output: caller buffer.
///
/// # Safety
/// `ruri` NUL-terminated (or NULL); `out` writable for `out_len` bytes; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_inbound_number(
    ruri: *const c_char,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_inbound_number", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let ruri = str_arg(ruri, "ruri", WACALL_MAX_SIP_STRING)?;
        out.write(&sip::parse_inbound_request_uri(ruri)?.number)
    })
}

/// The value of one user parameter of a call from Meta's R-URI (`name` compared case-insensitively, e.g. `"tgrp"`,
/// `"trunk-context"`), unescaped; `""` for a parameter without value. `WACALL_ERR_NOT_FOUND` when absent.
/// Output: caller buffer.
///
/// # Safety
/// `ruri` and `name` NUL-terminated (or NULL); `out` writable for `out_len` bytes; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_inbound_user_param(
    ruri: *const c_char,
    name: *const c_char,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_inbound_user_param", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let ruri = str_arg(ruri, "ruri", WACALL_MAX_SIP_STRING)?;
        let name = str_arg(name, "name", WACALL_MAX_SIP_STRING)?;
        let target = sip::parse_inbound_request_uri(ruri)?;
        let value = target.params.get(name).ok_or_else(|| {
            FfiError::new(
                wacall_result::WACALL_ERR_NOT_FOUND,
                format!("no user parameter {:?} in the R-URI", truncate(name, 64)),
            )
        })?;
        out.write(value)
    })
}

/// How many user parameters the R-URI of a call from Meta has (for `wacall_inbound_user_param_at`).
///
/// # Safety
/// `ruri` NUL-terminated (or NULL); `count` writable (or NULL).
#[no_mangle]
pub unsafe extern "C" fn wacall_inbound_user_param_count(
    ruri: *const c_char,
    count: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_inbound_user_param_count", || unsafe {
        if count.is_null() {
            return Err(FfiError::null("count"));
        }
        count.write(0);
        let ruri = str_arg(ruri, "ruri", WACALL_MAX_SIP_STRING)?;
        count.write(sip::parse_inbound_request_uri(ruri)?.params.len());
        Ok(())
    })
}

/// The `index`-th user parameter (0-based, in R-URI order) of a call from Meta: its name into `key` and its
/// unescaped value into `value` (both caller buffers). `WACALL_ERR_NOT_FOUND` past the last one.
///
/// # Safety
/// `ruri` NUL-terminated (or NULL); `key` writable for `key_len` bytes and `value` for `value_len` bytes;
/// `key_written` and `value_written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_inbound_user_param_at(
    ruri: *const c_char,
    index: usize,
    key: *mut c_char,
    key_len: usize,
    key_written: *mut usize,
    value: *mut c_char,
    value_len: usize,
    value_written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_inbound_user_param_at", || unsafe {
        let key = OutBuf::new(key, key_len, key_written)?;
        let value = OutBuf::new(value, value_len, value_written)?;
        let ruri = str_arg(ruri, "ruri", WACALL_MAX_SIP_STRING)?;
        let target = sip::parse_inbound_request_uri(ruri)?;
        let (k, v) = target.params.iter().nth(index).ok_or_else(|| {
            FfiError::new(
                wacall_result::WACALL_ERR_NOT_FOUND,
                format!(
                    "index {index} past the last user parameter (there are {})",
                    target.params.len()
                ),
            )
        })?;
        // Both sizes are reported even when the first buffer is too small.
        let k = key.write(k);
        let v = value.write(v);
        k.and(v)
    })
}

/// Everything routing needs from the R-URI of a call from Meta, as one JSON object:
/// `{"number":"+1234567890","host":"sip.example.com","port":5061,"params":[["tgrp","wacall"],["trunk-context",
/// "byoc.example.com"]]}` (`port` is null when absent; params keep R-URI order and duplicates; values unescaped).
/// Output: a library string for `wacall_string_free`.
///
/// # Safety
/// `ruri` NUL-terminated (or NULL); `out_json` writable for one pointer (or NULL).
#[no_mangle]
pub unsafe extern "C" fn wacall_inbound_ruri_json(
    ruri: *const c_char,
    out_json: *mut *mut c_char,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_inbound_ruri_json", || unsafe {
        let out = OutString::new(out_json)?;
        let ruri = str_arg(ruri, "ruri", WACALL_MAX_SIP_STRING)?;
        let t = sip::parse_inbound_request_uri(ruri)?;
        let mut j = String::with_capacity(64 + ruri.len() * 2);
        j.push_str("{\"number\":");
        json_string(&mut j, &t.number);
        j.push_str(",\"host\":");
        json_string(&mut j, &t.host);
        match t.port {
            Some(p) => {
                let _ = write!(j, ",\"port\":{p}");
            }
            None => j.push_str(",\"port\":null"),
        }
        j.push_str(",\"params\":[");
        for (i, (k, v)) in t.params.iter().enumerate() {
            if i > 0 {
                j.push(',');
            }
            j.push('[');
            json_string(&mut j, k);
            j.push(',');
            json_string(&mut j, v);
            j.push(']');
        }
        j.push_str("]}");
        out.write(j)
    })
}

/// The `request_uri_user_params` object for Meta's settings payload (`calling.sip.servers[]`), e.g.
/// `{"tgrp":"wacall","trunk-context":"byoc.example.com"}`, from `count` keys and values in order. Meta's rules are
/// enforced (each key and value 1-128 characters, keys unique and tokens, values usable in a SIP user part):
/// `WACALL_ERR_SIP` says which one broke them. Output: a library string for `wacall_string_free`.
///
/// # Safety
/// `keys` and `values` point to `count` NUL-terminated strings each (may be NULL when `count` is 0);
/// `out_json` writable for one pointer (or NULL).
#[no_mangle]
pub unsafe extern "C" fn wacall_request_uri_user_params_json(
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
    out_json: *mut *mut c_char,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_request_uri_user_params_json", || unsafe {
        let out = OutString::new(out_json)?;
        if count > 1024 {
            return Err(FfiError::new(
                wacall_result::WACALL_ERR_TOO_LONG,
                format!("{count} parameters (at most 1024)"),
            ));
        }
        let mut pairs = Vec::with_capacity(count);
        if count > 0 {
            if keys.is_null() {
                return Err(FfiError::null("keys"));
            }
            if values.is_null() {
                return Err(FfiError::null("values"));
            }
            for i in 0..count {
                let k = str_arg(*keys.add(i), &format!("keys[{i}]"), WACALL_MAX_SIP_STRING)?;
                let v = str_arg(
                    *values.add(i),
                    &format!("values[{i}]"),
                    WACALL_MAX_SIP_STRING,
                )?;
                pairs.push((k, v));
            }
        }
        out.write(sip::request_uri_user_params_json(&pairs)?)
    })
}

/// Borrows a raw SIP message given as pointer and length.
///
/// # Safety
/// `ptr` is NULL or readable for `len` bytes.
unsafe fn message_arg<'a>(ptr: *const c_char, len: usize) -> Result<&'a [u8], FfiError> {
    if ptr.is_null() {
        return Err(FfiError::null("message"));
    }
    if len > WACALL_MAX_SIP_MESSAGE {
        return Err(FfiError::new(
            wacall_result::WACALL_ERR_TOO_LONG,
            format!("`message` is {len} bytes, more than {WACALL_MAX_SIP_MESSAGE}"),
        ));
    }
    // SAFETY: per the contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// The first value of a header in a raw SIP message (`message`, `message_len` bytes; the body may be binary), name
/// compared case-insensitively with compact forms understood (`"i"` finds `Call-ID`). `WACALL_ERR_NOT_FOUND` when
/// absent. Output: caller buffer.
///
/// # Safety
/// `message` readable for `message_len` bytes (or NULL); `name` NUL-terminated (or NULL); `out` writable for
/// `out_len` bytes; `written` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wacall_sip_header(
    message: *const c_char,
    message_len: usize,
    name: *const c_char,
    out: *mut c_char,
    out_len: usize,
    written: *mut usize,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_sip_header", || unsafe {
        let out = OutBuf::new(out, out_len, written)?;
        let bytes = message_arg(message, message_len)?;
        let name = str_arg(name, "name", WACALL_MAX_SIP_STRING)?;
        let msg = sip::Message::parse(bytes)?;
        let value = msg.header(name).ok_or_else(|| {
            FfiError::new(
                wacall_result::WACALL_ERR_NOT_FOUND,
                format!("no {:?} header in the message", truncate(name, 64)),
            )
        })?;
        out.write(value)
    })
}

/// Meta's headers of a raw SIP message (INVITE or BYE from Meta) as one JSON object, absent ones null:
/// `{"wacid":"...","call_duration":"42","call_duration_secs":42,"cta_payload":null,"deeplink_payload":null}`.
/// Output: a library string for `wacall_string_free`.
///
/// # Safety
/// `message` readable for `message_len` bytes (or NULL); `out_json` writable for one pointer (or NULL).
#[no_mangle]
pub unsafe extern "C" fn wacall_meta_headers_json(
    message: *const c_char,
    message_len: usize,
    out_json: *mut *mut c_char,
) -> wacall_result {
    // SAFETY (closure): pointers per the function's contract.
    guard("wacall_meta_headers_json", || unsafe {
        let out = OutString::new(out_json)?;
        let bytes = message_arg(message, message_len)?;
        let h = sip::Message::parse(bytes)?.meta_headers();
        let mut j = String::with_capacity(128);
        let field = |j: &mut String, name: &str, v: &Option<String>| {
            let _ = write!(j, "\"{name}\":");
            match v {
                Some(v) => json_string(j, v),
                None => j.push_str("null"),
            }
        };
        j.push('{');
        field(&mut j, "wacid", &h.wacid);
        j.push(',');
        field(&mut j, "call_duration", &h.call_duration_raw);
        match h.call_duration_secs {
            Some(s) => {
                let _ = write!(j, ",\"call_duration_secs\":{s}");
            }
            None => j.push_str(",\"call_duration_secs\":null"),
        }
        j.push(',');
        field(&mut j, "cta_payload", &h.cta_payload);
        j.push(',');
        field(&mut j, "deeplink_payload", &h.deeplink_payload);
        j.push('}');
        out.write(j)
    })
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Appends `s` as a JSON string (RFC 8259 escapes).
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_escapes() {
        let mut s = String::new();
        super::json_string(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, r#""a\"b\\c\n\u0001é""#);
    }
}
