//! The fallback check: a default route (IPv4 or IPv6) through a non-loopback interface
//! that is up, which is what rootless networking (pasta, slirp4netns) needs. Read from
//! `/proc/net/route`, `/proc/net/ipv6_route` and `/sys/class/net/IF/flags`; woken by
//! route and link changes over rtnetlink, so that waiting costs nothing.

use std::path::{Path, PathBuf};

const RTF_UP: u32 = 0x1;
const RTF_REJECT: u32 = 0x200;
const IFF_UP: u32 = 0x1;
const IFF_LOOPBACK: u32 = 0x8;
/// The most read of one table: a full Internet routing table is about 100 MB.
const MAX_TABLE: u64 = 256 << 20;

/// Where the kernel's tables are read: `/` normally, a fake tree in tests.
#[derive(Debug, Clone)]
pub struct Tables {
    pub root: PathBuf,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            root: PathBuf::from("/"),
        }
    }
}

/// A usable default route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultRoute {
    pub interface: String,
    pub ipv6: bool,
}

impl Tables {
    /// A table as text: empty when missing, not a regular file (a FIFO would block the
    /// wait forever), unreadable or not UTF-8; read whole as the pseudo-file it is
    /// ([`crate::fsutil::read_pseudo`]), and one over [`MAX_TABLE`] bytes is unreadable.
    fn read(&self, rel: &str) -> String {
        let mut buf = Vec::new();
        match crate::fsutil::read_pseudo(&self.root.join(rel), MAX_TABLE, &mut buf) {
            Ok(()) => String::from_utf8(buf).unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    fn interface_usable(&self, ifname: &str) -> bool {
        if ifname == "lo" || ifname.contains('/') || ifname.is_empty() {
            return false;
        }
        let flags = self.read(&format!("sys/class/net/{ifname}/flags"));
        let Ok(flags) = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16) else {
            return false;
        };
        flags & IFF_UP != 0 && flags & IFF_LOOPBACK == 0
    }

    /// The first usable default route, IPv4 first.
    pub fn default_route(&self) -> Option<DefaultRoute> {
        for line in self.read("proc/net/route").lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                continue;
            }
            let flags = u32::from_str_radix(f[3], 16).unwrap_or(0);
            if f[1] == "00000000"
                && f[7] == "00000000"
                && flags & RTF_UP != 0
                && flags & RTF_REJECT == 0
                && self.interface_usable(f[0])
            {
                return Some(DefaultRoute {
                    interface: f[0].to_owned(),
                    ipv6: false,
                });
            }
        }
        for line in self.read("proc/net/ipv6_route").lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let flags = u32::from_str_radix(f[8], 16).unwrap_or(0);
            if f[0].bytes().all(|b| b == b'0')
                && f[1] == "00"
                && flags & RTF_UP != 0
                && flags & RTF_REJECT == 0
                && self.interface_usable(f[9])
            {
                return Some(DefaultRoute {
                    interface: f[9].to_owned(),
                    ipv6: true,
                });
            }
        }
        None
    }

    pub fn is_real_root(&self) -> bool {
        self.root == Path::new("/")
    }
}

/// Open an rtnetlink socket subscribed to link and route changes (IPv4 and IPv6); each
/// message on it is a reason to look at the tables again.
pub fn subscribe() -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::net::{netlink, AddressFamily, SocketFlags, SocketType};
    const RTMGRP_LINK: u32 = 0x1;
    const RTMGRP_IPV4_ROUTE: u32 = 0x40;
    const RTMGRP_IPV6_ROUTE: u32 = 0x400;
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None, // protocol 0 is NETLINK_ROUTE
    )?;
    let addr =
        netlink::SocketAddrNetlink::new(0, RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE);
    rustix::net::bind(&fd, &addr)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(route: &str, route6: &str, ifs: &[(&str, &str)]) -> (Tables, PathBuf) {
        let d = std::env::temp_dir().join(format!(
            "rootlet-route-{}-{}",
            std::process::id(),
            route.len() + route6.len() * 7 + ifs.len()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("proc/net")).unwrap();
        std::fs::write(d.join("proc/net/route"), route).unwrap();
        std::fs::write(d.join("proc/net/ipv6_route"), route6).unwrap();
        for (name, flags) in ifs {
            std::fs::create_dir_all(d.join(format!("sys/class/net/{name}"))).unwrap();
            std::fs::write(d.join(format!("sys/class/net/{name}/flags")), flags).unwrap();
        }
        (Tables { root: d.clone() }, d)
    }

    const HDR: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    #[test]
    fn ipv4_default_route_on_an_up_interface() {
        let (t, d) = tree(
            &format!("{HDR}eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"),
            "",
            &[("eth0", "0x1003")],
        );
        assert_eq!(
            t.default_route(),
            Some(DefaultRoute {
                interface: "eth0".into(),
                ipv6: false
            })
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn down_interface_loopback_and_non_default_routes_do_not_count() {
        let (t, d) = tree(
            &format!("{HDR}eth1\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"),
            "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n",
            &[("eth1", "0x1002"), ("eth0", "0x1003"), ("lo", "0x9")],
        );
        assert_eq!(t.default_route(), None);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_fifo_for_a_table_is_not_waited_on() {
        let (t, d) = tree(HDR, "", &[("eth0", "0x1003")]);
        let route = d.join("proc/net/route");
        std::fs::remove_file(&route).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &route,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let fifo_flags = d.join("sys/class/net/eth0/flags");
        std::fs::remove_file(&fifo_flags).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo_flags,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        assert_eq!(t.default_route(), None);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn ipv6_default_route() {
        let (t, d) = tree(
            HDR,
            "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     ens3\n",
            &[("ens3", "0x1003")],
        );
        assert_eq!(
            t.default_route(),
            Some(DefaultRoute {
                interface: "ens3".into(),
                ipv6: true
            })
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
