//! A lean HTTP/1.1 client for the measured loads, as `wrk` is: each connection writes a request
//! built beforehand and reads the response's status line, headers and `Content-Length` body.
//! The load generator shares the cores with the server; spending less of them on HTTP leaves
//! more to the server, whose rate is what is measured. (Setup requests go through reqwest.)

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::Fallible;

/// One keep-alive connection.
pub(crate) struct Connection {
    stream: BufReader<TcpStream>,
    line: String,
    body: Vec<u8>,
}

impl Connection {
    /// Connects to `authority` (`127.0.0.1:port`).
    pub(crate) async fn open(authority: &str) -> Fallible<Self> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(Self { stream: BufReader::new(stream), line: String::new(), body: Vec::new() })
    }

    /// Sends `request` (a whole HTTP/1.1 request) and reads the response; its status code.
    pub(crate) async fn send(&mut self, request: &[u8]) -> Fallible<u16> {
        self.stream.get_mut().write_all(request).await?;
        self.line.clear();
        self.stream.read_line(&mut self.line).await?;
        let status = self.line.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok()).ok_or("no status line")?;
        let mut length = 0usize;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                return Err("connection closed in the headers".into());
            }
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await?;
        Ok(status)
    }
}

/// A `POST` of a form, as bytes on the wire.
pub(crate) fn post_form(authority: &str, path: &str, headers: &[(&str, &str)], form: &[(&str, String)]) -> Vec<u8> {
    let body = form.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    request.into_bytes()
}

/// A `GET`, as bytes on the wire.
pub(crate) fn get(authority: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {authority}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
