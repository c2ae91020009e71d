//! Property tests of `rootlet doctor`'s value parsers: no input panics, and every form
//! podman and systemd accept yields the host port.

use proptest::prelude::*;
use rootlet::doctor::{json_string, listen_port, publish_host_ports};

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("127.0.0.1:".to_owned()),
        Just("0.0.0.0:".to_owned()),
        Just("[::1]:".to_owned()),
        Just("[::]:".to_owned()),
    ]
}

proptest! {
    #[test]
    fn parsers_never_panic(s in any::<String>()) {
        let _ = publish_host_ports(&s);
        let _ = listen_port(&s);
    }

    #[test]
    fn parsers_never_panic_on_near_misses(s in "[0-9:\\[\\]./a-f%-]{0,24}") {
        let _ = publish_host_ports(&s);
        let _ = listen_port(&s);
    }

    #[test]
    fn publish_forms(ip in ip(), host in 1u16.., cont in 1u16.., proto in prop_oneof![Just(""), Just("/tcp"), Just("/udp")]) {
        let v = format!("{ip}{host}:{cont}{proto}");
        prop_assert_eq!(publish_host_ports(&v), Some((host, host)));
        let v = format!("{ip}{host}-{}:{cont}{proto}", host.saturating_add(3));
        prop_assert_eq!(publish_host_ports(&v), Some((host, host.saturating_add(3))));
        // No host port: podman picks one.
        prop_assert_eq!(publish_host_ports(&format!("{cont}{proto}")), None);
    }

    #[test]
    fn listen_forms(ip in prop_oneof![Just(""), Just("0.0.0.0:"), Just("[::]:"), Just("192.168.1.2:")], port in any::<u16>()) {
        prop_assert_eq!(listen_port(&format!("{ip}{port}")), Some(port));
    }

    #[test]
    fn json_strings_round_trip_through_escaping(s in any::<String>()) {
        let j = json_string(&s);
        prop_assert!(j.starts_with('"') && j.ends_with('"') && j.len() >= 2);
        // No raw control characters survive.
        prop_assert!(!j.chars().any(|c| (c as u32) < 0x20));
    }
}
