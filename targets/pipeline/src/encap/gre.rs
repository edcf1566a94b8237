//! GRE (RFC 2784, key and sequence number RFC 2890): transparent Ethernet bridging
//! (0x6558) with an optional key, or ERSPAN type II (0x88BE) with a sequence number.

/// Protocol: transparent Ethernet bridging.
const PROTO_TEB: u16 = 0x6558;
/// Protocol: ERSPAN type II.
const PROTO_ERSPAN2: u16 = 0x88BE;
/// K bit: a key follows.
const FLAG_KEY: u16 = 0x2000;
/// S bit: a sequence number follows.
const FLAG_SEQ: u16 = 0x1000;
/// GRE header with a sequence number.
pub(super) const SEQ_LEN: u16 = 8;

/// Bytes of a TEB GRE header with or without a key.
pub(super) fn len(key_present: bool) -> u16 {
    if key_present {
        8
    } else {
        4
    }
}

/// Writes a TEB GRE header (with the key if any) into `h`; its length.
pub(super) fn write_teb(h: &mut [u8; 8], key: Option<u32>) -> u16 {
    let flags = if key.is_some() { FLAG_KEY } else { 0 };
    h[0..2].copy_from_slice(&flags.to_be_bytes());
    h[2..4].copy_from_slice(&PROTO_TEB.to_be_bytes());
    if let Some(k) = key {
        h[4..8].copy_from_slice(&k.to_be_bytes());
    }
    len(key.is_some())
}

/// Writes the GRE header of an ERSPAN type II copy into `h`.
pub(super) fn write_erspan(h: &mut [u8; SEQ_LEN as usize], seq: u32) {
    h[0..2].copy_from_slice(&FLAG_SEQ.to_be_bytes());
    h[2..4].copy_from_slice(&PROTO_ERSPAN2.to_be_bytes());
    h[4..8].copy_from_slice(&seq.to_be_bytes());
}
