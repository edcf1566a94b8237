//! Canonical bytestring encoding (P4Runtime spec §8.4).

use p4clone_proto::bytestring::*;
use p4clone_proto::Error;

#[test]
fn encode_is_minimal_big_endian() {
    assert_eq!(encode(0), [0]);
    assert_eq!(encode(1), [1]);
    assert_eq!(encode(255), [255]);
    assert_eq!(encode(256), [1, 0]);
    assert_eq!(encode(0x1ff), [1, 0xff]);
    assert_eq!(encode(0x0a00_0001), [0x0a, 0, 0, 1]);
    assert_eq!(encode(u128::MAX), [0xff; 16]);
    assert_eq!(encode(1 << 127), {
        let mut v = vec![0x80];
        v.extend([0; 15]);
        v
    });
}

#[test]
fn encode_bytes_strips_leading_zeros() {
    assert_eq!(encode_bytes(&[]), [0]);
    assert_eq!(encode_bytes(&[0, 0, 0]), [0]);
    assert_eq!(encode_bytes(&[0, 0, 1, 0]), [1, 0]);
    assert_eq!(encode_bytes(&[0x80, 0]), [0x80, 0]);
    // Wider than 128 bits is fine for bytes.
    let wide = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
    assert_eq!(encode_bytes(&wide), &wide[1..]);
}

#[test]
fn decode_accepts_padding_and_rejects_empty_or_too_wide() {
    assert_eq!(decode(&[0]).unwrap(), 0);
    assert_eq!(decode(&[0, 0]).unwrap(), 0);
    assert_eq!(decode(&[1, 0]).unwrap(), 256);
    assert_eq!(decode(&[0, 0, 1, 0]).unwrap(), 256);
    assert_eq!(decode(&[0xff; 16]).unwrap(), u128::MAX);
    let mut padded = vec![0u8; 4];
    padded.extend([0xff; 16]);
    assert_eq!(decode(&padded).unwrap(), u128::MAX);
    assert!(matches!(decode(&[]), Err(Error::EmptyBytestring)));
    assert!(matches!(decode(&[1; 17]), Err(Error::ValueTooWide { bitwidth: 128, .. })));
}

#[test]
fn round_trip() {
    for v in [0u128, 1, 2, 127, 128, 255, 256, 65535, 65536, 1 << 64, u128::MAX] {
        let e = encode(v);
        assert!(is_canonical(&e), "{v}");
        assert_eq!(decode(&e).unwrap(), v);
    }
}

#[test]
fn canonical_detection() {
    assert!(is_canonical(&[0]));
    assert!(is_canonical(&[1]));
    assert!(is_canonical(&[1, 0]));
    assert!(is_canonical(&[0x80, 0, 0]));
    assert!(!is_canonical(&[]));
    assert!(!is_canonical(&[0, 0]));
    assert!(!is_canonical(&[0, 1]));
    assert!(!is_canonical(&[0, 0x80, 0]));
}

#[test]
fn fits_bitwidths() {
    // 9-bit port: 511 fits, 512 does not.
    assert!(fits(&[1, 0xff], 9));
    assert!(!fits(&[2, 0], 9));
    assert!(fits(&[0, 0, 1, 0xff], 9), "padding is ignored");
    assert!(fits(&[0], 1));
    assert!(fits(&[1], 1));
    assert!(!fits(&[2], 1));
    assert!(fits(&[0], 0), "zero fits in zero bits");
    assert!(!fits(&[], 8), "empty is never valid");
    // Max widths of the data plane: 12, 16, 32, 48, 128.
    assert!(fits(&encode(4095), 12) && !fits(&encode(4096), 12));
    assert!(fits(&encode(0xffff), 16) && !fits(&encode(0x1_0000), 16));
    assert!(fits(&encode(0xffff_ffff), 32) && !fits(&encode(0x1_0000_0000), 32));
    assert!(fits(&encode((1 << 48) - 1), 48) && !fits(&encode(1 << 48), 48));
    assert!(fits(&encode(u128::MAX), 128));
    assert!(!fits(&[1; 17], 128));
    assert!(value_fits(u128::MAX, 128) && value_fits(u128::MAX, 200));
    assert!(value_fits(255, 8) && !value_fits(256, 8));
}

#[test]
fn checked_variants_report_overflow() {
    assert_eq!(encode_checked(511, 9).unwrap(), [1, 0xff]);
    let err = encode_checked(512, 9).unwrap_err();
    assert!(matches!(err, Error::ValueTooWide { bitwidth: 9, .. }));
    assert_eq!(err.to_string(), "value 0x200 does not fit in 9 bits");
    assert_eq!(decode_checked(&[0, 1, 0xff], 9).unwrap(), 511);
    assert!(decode_checked(&[2, 0], 9).is_err());
    assert!(check_fits(&[2, 0], 9).is_err());
    assert!(matches!(check_fits(&[], 9), Err(Error::EmptyBytestring)));
    check_fits(&[0xff; 6], 48).unwrap();
}

#[test]
fn to_width_pads() {
    assert_eq!(to_width(&[1], 9).unwrap(), [0, 1]);
    assert_eq!(to_width(&[0, 0, 0, 1], 16).unwrap(), [0, 1]);
    assert_eq!(to_width(&[0xa, 0, 0, 1], 32).unwrap(), [0xa, 0, 0, 1]);
    assert!(to_width(&[2, 0], 9).is_err());
    assert_eq!(byte_len(1), 1);
    assert_eq!(byte_len(9), 2);
    assert_eq!(byte_len(128), 16);
}

#[test]
fn ternary_masks() {
    assert_eq!(mask(0), 0);
    assert_eq!(mask(9), 0x1ff);
    assert_eq!(mask(128), u128::MAX);
    assert_eq!(full_mask(8), [0xff]);
    assert_eq!(full_mask(9), [0x01, 0xff]);
    assert_eq!(full_mask(12), [0x0f, 0xff]);
    assert_eq!(full_mask(128), [0xff; 16]);
    assert_eq!(prefix_mask(0, 32).unwrap(), [0]);
    assert_eq!(prefix_mask(24, 32).unwrap(), [0xff, 0xff, 0xff, 0]);
    assert_eq!(prefix_mask(32, 32).unwrap(), [0xff; 4]);
    assert_eq!(prefix_mask(1, 9).unwrap(), [1, 0]);
    assert_eq!(prefix_mask(9, 9).unwrap(), [1, 0xff]);
    assert!(matches!(prefix_mask(33, 32), Err(Error::BadPrefixLen { prefix_len: 33, bitwidth: 32 })));
    assert_eq!(apply_mask(&[0x0a, 0, 0, 1], &[0xff, 0xff, 0xff, 0]), [0x0a, 0, 0, 0]);
    assert_eq!(apply_mask(&[0x12, 0x34], &[0xff]), [0x34]);
    assert_eq!(apply_mask(&[0x12, 0x34], &[0]), [0]);
    assert!(is_masked(&[0x0a, 0, 0, 0], &[0xff, 0xff, 0xff, 0]));
    assert!(!is_masked(&[0x0a, 0, 0, 1], &[0xff, 0xff, 0xff, 0]));
    assert!(is_masked(&[0], &[0]));
}
