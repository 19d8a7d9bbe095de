//! Which addresses a client-supplied URL (`jwks_uri`) may reach: public ones only, unless the
//! bank allows its internal network by name (server-side request forgery, OWASP SSRF).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Whether `ip` is a public unicast address: not unspecified (`0.0.0.0/8`, `::`), loopback
/// (`127.0.0.0/8`, `::1`), private (`10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`,
/// `fc00::/7`), link-local (`169.254.0.0/16`, `fe80::/10`), shared (`100.64.0.0/10`),
/// IETF-reserved, documentation, benchmarking, multicast or broadcast. An IPv4 address
/// embedded in IPv6 (`::ffff:a.b.c.d`, `::a.b.c.d`, `64:ff9b::a.b.c.d`) is judged as that IPv4
/// address.
///
/// ```
/// use openbanking_core::client::is_public_ip;
/// assert!(is_public_ip("93.184.215.14".parse().unwrap()));
/// for ip in ["127.0.0.1", "10.1.2.3", "172.31.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
///            "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1"] {
///     assert!(!is_public_ip(ip.parse().unwrap()), "{ip}");
/// }
/// ```
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let non_public = a == 0                                  // "this network", 0.0.0.0
        || a == 10                                           // private
        || a == 127                                          // loopback
        || (a == 100 && (64..128).contains(&b))              // shared (CGNAT)
        || (a == 169 && b == 254)                            // link-local
        || (a == 172 && (16..32).contains(&b))               // private
        || (a == 192 && b == 0 && c == 0)                    // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)                    // documentation
        || (a == 192 && b == 168)                            // private
        || (a == 198 && (18..20).contains(&b))               // benchmarking
        || (a == 198 && b == 51 && c == 100)                 // documentation
        || (a == 203 && b == 0 && c == 113)                  // documentation
        || a >= 224; // multicast, reserved, broadcast
    !non_public
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96) and NAT64 (64:ff9b::/96).
    let embedded = |s: &[u16]| Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if segments[..5] == [0; 5] && (segments[5] == 0xffff || (segments[5] == 0 && segments[6] != 0)) {
        return is_public_v4(embedded(&segments));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(&segments));
    }
    let first = segments[0];
    let non_public = ip.is_unspecified()
        || ip.is_loopback()
        || (first & 0xfe00) == 0xfc00          // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80          // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0          // site-local (deprecated) fec0::/10
        || (first & 0xff00) == 0xff00          // multicast
        || (first == 0x2001 && segments[1] == 0x0db8) // documentation
        || segments[..5] == [0; 5]; // the rest of ::/80
    !non_public
}

/// Whether `url` names a host that is plainly not public without resolving it: an IP literal
/// that is not [public](is_public_ip), or `localhost` (and its subdomains, RFC 6761 §6.3). A
/// domain name may still resolve to a non-public address: the fetch resolves it and refuses
/// those (`RemoteJwks`' public-only HTTP client).
///
/// ```
/// use openbanking_core::client::names_non_public_host;
/// let url = |s: &str| url::Url::parse(s).unwrap();
/// assert!(names_non_public_host(&url("http://127.0.0.1:8080/jwks")));
/// assert!(names_non_public_host(&url("https://[::1]/jwks")));
/// assert!(names_non_public_host(&url("https://LOCALHOST./jwks")));
/// assert!(names_non_public_host(&url("https://0x7f.1/jwks"))); // 127.0.0.1 spelled oddly
/// assert!(!names_non_public_host(&url("https://tpp.example/jwks")));
/// ```
pub fn names_non_public_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => !is_public_v4(ip),
        Some(Host::Ipv6(ip)) => !is_public_v6(ip),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_of_the_issue_is_non_public() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fdff::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip} must not be public");
        }
        for ip in ["8.8.8.8", "172.15.0.1", "172.32.0.1", "192.169.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip} is public");
        }
    }
}
