//! A tiny FFI to Debian's libopus: mono 48 kHz encoder and decoder, 20 ms frames.
#![allow(unsafe_code)]

use std::os::raw::{c_int, c_uchar};

#[repr(C)]
struct OpusEncoder {
    _p: [u8; 0],
}
#[repr(C)]
struct OpusDecoder {
    _p: [u8; 0],
}

extern "C" {
    fn opus_encoder_create(
        fs: i32,
        channels: c_int,
        application: c_int,
        error: *mut c_int,
    ) -> *mut OpusEncoder;
    fn opus_encode(
        st: *mut OpusEncoder,
        pcm: *const i16,
        frame_size: c_int,
        data: *mut c_uchar,
        max: i32,
    ) -> i32;
    fn opus_encoder_destroy(st: *mut OpusEncoder);
    fn opus_decoder_create(fs: i32, channels: c_int, error: *mut c_int) -> *mut OpusDecoder;
    fn opus_decode(
        st: *mut OpusDecoder,
        data: *const c_uchar,
        len: i32,
        pcm: *mut i16,
        frame_size: c_int,
        fec: c_int,
    ) -> c_int;
    fn opus_decoder_destroy(st: *mut OpusDecoder);
}

const OPUS_APPLICATION_VOIP: c_int = 2048;
pub const RATE: usize = 48000;
pub const FRAME: usize = 960;

pub struct Encoder(*mut OpusEncoder);
pub struct Decoder(*mut OpusDecoder);

impl Encoder {
    pub fn new() -> Option<Self> {
        let mut err = 0;
        // SAFETY: valid arguments; the returned pointer is owned and freed in Drop.
        let p = unsafe { opus_encoder_create(RATE as i32, 1, OPUS_APPLICATION_VOIP, &mut err) };
        (!p.is_null() && err == 0).then_some(Self(p))
    }
    /// Encodes one 20 ms mono frame into `out`; returns the length.
    pub fn encode(&mut self, pcm: &[i16; FRAME], out: &mut [u8]) -> Option<usize> {
        // SAFETY: pcm holds FRAME samples, out is writable for out.len() bytes, the encoder is live.
        let n = unsafe {
            opus_encode(
                self.0,
                pcm.as_ptr(),
                FRAME as c_int,
                out.as_mut_ptr(),
                out.len() as i32,
            )
        };
        (n > 0).then_some(n as usize)
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_encoder_create, destroyed once.
        unsafe { opus_encoder_destroy(self.0) }
    }
}

impl Decoder {
    pub fn new() -> Option<Self> {
        let mut err = 0;
        // SAFETY: as for the encoder.
        let p = unsafe { opus_decoder_create(RATE as i32, 1, &mut err) };
        (!p.is_null() && err == 0).then_some(Self(p))
    }
    /// Decodes one packet into `pcm` (up to 120 ms); returns the sample count.
    pub fn decode(&mut self, data: &[u8], pcm: &mut [i16]) -> Option<usize> {
        // SAFETY: data/pcm valid for their lengths; frame_size bounds what opus writes.
        let n = unsafe {
            opus_decode(
                self.0,
                data.as_ptr(),
                data.len() as i32,
                pcm.as_mut_ptr(),
                pcm.len() as c_int,
                0,
            )
        };
        (n > 0).then_some(n as usize)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: created by opus_decoder_create, destroyed once.
        unsafe { opus_decoder_destroy(self.0) }
    }
}
