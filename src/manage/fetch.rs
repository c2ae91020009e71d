//! `rootlet add URL`: the file a URL names. `https://` through `curl` (run by
//! [`crate::proc`]: its process group killed at the deadline, audit N7); `http://` to
//! loopback addresses only, over a plain `TcpStream` with a small HTTP/1.1 client (plain
//! HTTP over a real network would let anyone on the way change the units).
//!
//! Both end within [`DOWNLOAD_TIMEOUT`] and take at most [`MAX_INPUT`] bytes of body,
//! exactly: one byte more is refused, as for a file from disk. The HTTP client stops at the
//! end of the answer (`Content-Length`, the last chunk, or the close), so a server that keeps
//! the connection open after a complete answer costs nothing (audit N8).

use super::MAX_INPUT;
use std::io::{self, BufRead, Read, Write};
use std::time::{Duration, Instant};

/// Deadline for one download, all of it.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// The most bytes of status line and headers taken.
const MAX_HEAD: u64 = 64 * 1024;

/// Fetch a URL: (file name, content).
pub fn download(url: &str) -> Result<(String, Vec<u8>), String> {
    let name = url_file_name(url)?;
    let data = if let Some(rest) = url.strip_prefix("http://") {
        http_get(rest, DOWNLOAD_TIMEOUT)?
    } else {
        curl("curl", url)?
    };
    Ok((name, data))
}

/// The file name a URL names: its path's last segment.
pub fn url_file_name(url: &str) -> Result<String, String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let name = path.split_once('/').map_or("", |(_, p)| p);
    let name = name.rsplit('/').next().unwrap_or("");
    if super::valid_file_name(name) {
        Ok(name.to_owned())
    } else {
        Err(
            "the URL names no file (its path must end in NAME.container, NAME.quadlets, ...)"
                .into(),
        )
    }
}

fn too_large(max: u64) -> String {
    format!("larger than {max} bytes")
}

/// `https://` through curl: only https, redirects too, bounded in size and time (curl's
/// own `--max-time`, and ours 10 s later for a curl that ignores it).
pub(crate) fn curl(prog: &str, url: &str) -> Result<Vec<u8>, String> {
    use crate::proc;
    let out = proc::run(
        std::process::Command::new(prog)
            .args(["-fsSL", "--proto", "=https", "--proto-redir", "=https"])
            .args(["--max-time", &DOWNLOAD_TIMEOUT.as_secs().to_string()])
            .args([
                "--max-filesize",
                &MAX_INPUT.to_string(),
                "-o",
                "-",
                "--",
                url,
            ]),
        &proc::Limits {
            deadline: DOWNLOAD_TIMEOUT + Duration::from_secs(10),
            // One byte over the limit tells "too large" from "exactly the limit".
            max_out: MAX_INPUT as usize + 1,
            max_err: 4096,
        },
    )
    .map_err(|e| match e {
        proc::Error::Spawn { source, .. } => {
            format!("https:// needs curl, which cannot be run: {source}")
        }
        e => e.to_string(),
    })?;
    if !out.status.success() {
        let msg = out.stderr_text();
        return Err(format!(
            "curl failed ({}){}",
            out.status,
            if msg.is_empty() {
                String::new()
            } else {
                format!(": {msg}")
            }
        ));
    }
    if out.truncated || out.stdout.len() as u64 > MAX_INPUT {
        return Err(too_large(MAX_INPUT));
    }
    Ok(out.stdout)
}

/// A stream whose every read ends by `until`: the rest of the deadline is its read
/// timeout, and past it a read is `TimedOut`.
struct Deadlined {
    stream: std::net::TcpStream,
    until: Instant,
}

impl Read for Deadlined {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self
            .until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// `http://HOST[:PORT]/PATH` with HTTP/1.1, to loopback addresses only; no redirects.
fn http_get(rest: &str, deadline: Duration) -> Result<Vec<u8>, String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split('#').next().unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    if authority.is_empty()
        || authority.contains('@')
        || path.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err("not a usable http:// URL".into());
    }
    let host_port = if authority.starts_with('[')
        || authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addrs: Vec<_> = host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {authority}: {e}"))?
        .collect();
    if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
        return Err(
            "http:// is taken for loopback addresses only (for tests); use https://".into(),
        );
    }
    let until = Instant::now() + deadline;
    let mut stream = TcpStream::connect_timeout(&addrs[0], deadline.min(Duration::from_secs(10)))
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    stream.set_write_timeout(Some(Duration::from_secs(10))).ok();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: rootlet/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|e| format!("sending the request: {e}"))?;
    let mut r = io::BufReader::new(Deadlined { stream, until });
    read_response(&mut r, MAX_INPUT).map_err(|e| match e {
        Fail::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            format!("no complete answer within {} s", deadline.as_secs())
        }
        Fail::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => "a truncated answer".into(),
        Fail::Io(e) => format!("reading the answer: {e}"),
        Fail::Bad(why) => why,
    })
}

/// Why an answer was not taken.
#[derive(Debug)]
enum Fail {
    Io(io::Error),
    Bad(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Io(e)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Fail {
        Fail::Bad(s.to_owned())
    }
}

/// One line (`\r\n` or `\n` ended, without it), at most `max` bytes; `None` at the end.
fn line(r: &mut impl BufRead, max: u64) -> Result<Option<String>, Fail> {
    let mut buf = Vec::new();
    r.take(max + 1).read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.len() as u64 > max {
        return Err("an answer with an overlong line".into());
    }
    if buf.last() != Some(&b'\n') {
        return Err(Fail::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| "not an HTTP answer".into())
}

/// The body of an HTTP/1.x `200` answer, read up to its end and no further: by
/// `Content-Length`, chunked, or up to the close. More than `max` bytes of body is
/// refused, as soon as it is known (a `Content-Length` over it before any body is read).
fn read_response(r: &mut impl BufRead, max: u64) -> Result<Vec<u8>, Fail> {
    let mut head = r.take(MAX_HEAD);
    let status = line(&mut head, MAX_HEAD)?.ok_or("no answer")?;
    if !status.starts_with("HTTP/1.") {
        return Err("not an HTTP/1 answer".into());
    }
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(Fail::Bad(format!(
            "the server answered {}",
            crate::wait::clip(status.trim(), 200)
        )));
    }
    let mut length = None;
    let mut chunked = false;
    loop {
        let l = line(&mut head, MAX_HEAD)?.ok_or("a truncated answer")?;
        if l.is_empty() {
            break;
        }
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            length = Some(v.parse::<u64>().map_err(|_| "a bad Content-Length")?);
        } else if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = line(r, 1024)?.ok_or("a truncated chunked body")?;
            let size_text = size_line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16).map_err(|_| "a bad chunk size")?;
            if size == 0 {
                // The trailer is not read: the answer is complete.
                return Ok(body);
            }
            if body.len() as u64 + size > max {
                return Err(Fail::Bad(too_large(max)));
            }
            let at = body.len();
            body.resize(at + size as usize, 0);
            r.read_exact(&mut body[at..])?;
            if line(r, 2)?.as_deref() != Some("") {
                return Err("a bad chunk end".into());
            }
        }
    }
    match length {
        Some(n) if n > max => Err(Fail::Bad(too_large(max))),
        Some(n) => {
            body.resize(n as usize, 0);
            r.read_exact(&mut body)?;
            Ok(body)
        }
        None => {
            r.take(max + 1).read_to_end(&mut body)?;
            if body.len() as u64 > max {
                return Err(Fail::Bad(too_large(max)));
            }
            Ok(body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Vec<u8>, Fail> {
        read_response(&mut io::BufReader::new(raw), 10)
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap(),
            b"abc"
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert_eq!(parse(b"HTTP/1.0 200 OK\r\n\r\nabc").unwrap(), b"abc");
        assert!(parse(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc").is_err());
        assert!(parse(b"garbage").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n"
        )
        .is_err());
        for huge in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nab",
            b"HTTP/1.1 200\r\n\r\n\xff\xfe",
        ] {
            let _ = parse(huge); // no panic
        }
    }

    /// Audit N8: the limit holds for the body, exactly, whichever way its end is told.
    #[test]
    fn n8_the_body_limit_is_exact() {
        let ten = b"0123456789";
        let eleven = b"0123456789a";
        for (body, ok) in [(&ten[..], true), (&eleven[..], false)] {
            let by_length = [
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
                body,
            ]
            .concat();
            let by_close = [&b"HTTP/1.1 200 OK\r\n\r\n"[..], body].concat();
            let chunked = [
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n"[..],
                &body[..5],
                format!("\r\n{:x}\r\n", body.len() - 5).as_bytes(),
                &body[5..],
                b"\r\n0\r\n\r\n",
            ]
            .concat();
            for raw in [by_length, by_close, chunked] {
                let r = parse(&raw);
                assert_eq!(r.is_ok(), ok, "{:?}: {r:?}", String::from_utf8_lossy(&raw));
                match r {
                    Ok(b) => assert_eq!(b, body),
                    Err(Fail::Bad(why)) => assert_eq!(why, "larger than 10 bytes"),
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
    }

    /// Audit N8: a server that keeps the connection open after a complete answer (its
    /// `Content-Length` given) cost the whole 60 s and ended in `EAGAIN`; one that says
    /// nothing is "no complete answer within N s", at N s.
    #[test]
    fn n8_a_kept_open_connection_after_a_complete_answer_costs_nothing() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut held = Vec::new();
            for (i, c) in l.incoming().take(2).enumerate() {
                let mut c = c.unwrap();
                let mut req = [0u8; 4096];
                let _ = c.read(&mut req);
                if i == 0 {
                    let body = b"[Container]\nImage=docker.io/library/nginx\n";
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                    c.write_all(&[head.as_bytes(), body].concat()).unwrap();
                }
                held.push(c); // never closed while the test runs
            }
            std::thread::sleep(Duration::from_secs(30));
        });
        let t0 = Instant::now();
        let body = http_get(
            &format!("127.0.0.1:{port}/a/web.container"),
            DOWNLOAD_TIMEOUT,
        )
        .unwrap();
        assert!(body.starts_with(b"[Container]"));
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
        let t0 = Instant::now();
        let e = http_get(
            &format!("127.0.0.1:{port}/b/web.container"),
            Duration::from_secs(2),
        )
        .unwrap_err();
        assert_eq!(e, "no complete answer within 2 s");
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
        drop(server);
    }

    /// Audit N7: a curl whose child keeps stdout open held `add` for as long as the child
    /// lived (100 s), past the 70 s deadline; now its output is taken once curl exits.
    #[test]
    fn n7_a_child_of_curl_holding_the_pipe_does_not_hold_the_download() {
        let dir = std::env::temp_dir().join(format!("rootlet-fetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("curl");
        crate::proc::write_test_program(
            &fake,
            "#!/bin/sh\n( exec sleep 100 ) &\nprintf '[Container]\\nImage=x\\n'\n",
        );
        let t0 = Instant::now();
        let out = curl(fake.to_str().unwrap(), "https://example.org/web.container").unwrap();
        assert_eq!(out, b"[Container]\nImage=x\n");
        assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn url_names() {
        assert_eq!(
            url_file_name("https://h/a/web.container?x=1").unwrap(),
            "web.container"
        );
        assert!(url_file_name("https://h/").is_err());
        assert!(url_file_name("https://h").is_err());
    }
}
