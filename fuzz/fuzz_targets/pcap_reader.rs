//! Arbitrary bytes as a pcap file through the soft target's streaming reader
//! (`PcapReader::new` over a `Read`) and bmv2's `pcap::parse`: never a panic, and
//! the streaming reader always stops (end of file or an error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use p4clone_soft::ports::pcap::PcapReader;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = PcapReader::new("fuzz.pcap", std::io::Cursor::new(data.to_vec())) {
        let mut buf = Vec::new();
        let mut stopped = false;
        // Every record takes at least its 16-byte header, so this bounds a correct reader.
        for _ in 0..=data.len() / 16 + 1 {
            match r.next_record(&mut buf) {
                Ok(Some(info)) => assert_eq!(buf.len(), info.caplen as usize),
                Ok(None) | Err(_) => {
                    stopped = true;
                    break;
                }
            }
        }
        assert!(stopped, "the pcap reader returned more records than the input can hold");
    }
    let _ = p4clone_bmv2::pcap::parse(data);
});
