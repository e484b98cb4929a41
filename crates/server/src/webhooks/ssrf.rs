//! Where webhooks may go: `https://` URLs whose host resolves only to public
//! addresses. Checked when an endpoint is saved and again at connect time,
//! by the resolver the HTTP client uses ([`FilteringResolver`]), so a name
//! that re-points to an internal address after the check (DNS rebinding)
//! is still refused. IP literals never reach a resolver and are checked
//! before every attempt instead.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;

/// Why an address may not be contacted, or `None` when it is public.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, d] = ip.octets();
    Some(match (a, b) {
        (0, _) => "unspecified",
        (10, _) | (172, 16..=31) | (192, 168) => "private",
        (127, _) => "loopback",
        (169, 254) => "link-local (cloud metadata)",
        (100, 64..=127) => "carrier-grade NAT (cloud metadata)",
        (192, 0) if c == 0 => "IETF protocol assignments",
        (198, 18..=19) => "benchmarking",
        (224..=239, _) => "multicast",
        (240..=255, _) => "reserved or broadcast",
        // Azure's wire server: a public-looking metadata address.
        (168, 63) if c == 129 && d == 16 => "cloud metadata",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    Some(match s[0] {
        // Includes fd00:ec2::254, the EC2 metadata service over IPv6.
        0xfc00..=0xfdff => "unique-local (private)",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xff00..=0xffff => "multicast",
        // IPv4-compatible (deprecated) and NAT64 forms embed an IPv4
        // address that may be internal: judge it as that address.
        0 if s[1..6] == [0; 5] => {
            return forbidden_v4(Ipv4Addr::new(
                (s[6] >> 8) as u8,
                s[6] as u8,
                (s[7] >> 8) as u8,
                s[7] as u8,
            ))
            .or(Some("IPv4-compatible"));
        }
        0x64 if s[1] == 0xff9b => {
            return forbidden_v4(Ipv4Addr::new(
                (s[6] >> 8) as u8,
                s[6] as u8,
                (s[7] >> 8) as u8,
                s[7] as u8,
            ));
        }
        // 6to4 embeds the IPv4 address in the next 32 bits.
        0x2002 => {
            return forbidden_v4(Ipv4Addr::new(
                (s[1] >> 8) as u8,
                s[1] as u8,
                (s[2] >> 8) as u8,
                s[2] as u8,
            ));
        }
        0x2001 if s[1] == 0x0db8 => "documentation",
        // Teredo tunnels to an address we cannot judge.
        0x2001 if s[1] == 0 => "Teredo",
        _ => return None,
    })
}

/// Where endpoints may point, from the `[webhooks]` configuration.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub allow_http_hosts: Vec<String>,
    pub allow_private_addresses: bool,
}

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2048;

impl Policy {
    pub fn from_config(c: &crate::config::WebhooksConfig) -> Self {
        Policy {
            allow_http_hosts: c
                .allow_http_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            allow_private_addresses: c.allow_private_addresses,
        }
    }

    /// Checks an endpoint URL's form (scheme, host, no credentials) and, for
    /// an IP literal, its address. Error messages are for the tenant.
    pub fn check_url(&self, text: &str) -> Result<Url, String> {
        if text.len() > MAX_URL_LEN {
            return Err(format!("`url` may be at most {MAX_URL_LEN} characters."));
        }
        let url = Url::parse(text).map_err(|_| "`url` is not an absolute URL.".to_owned())?;
        let host = url
            .host_str()
            .ok_or_else(|| "`url` must name a host.".to_owned())?
            .to_ascii_lowercase();
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http_hosts.contains(&host) => {}
            _ => return Err("`url` must use https.".to_owned()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "`url` must not carry credentials; receivers verify the signature.".to_owned(),
            );
        }
        if url.fragment().is_some() {
            return Err("`url` must not have a fragment.".to_owned());
        }
        if let Some(ip) = literal_ip(&url) {
            self.check_ip(ip)?;
        }
        Ok(url)
    }

    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        match forbidden(ip) {
            Some(why) if !self.allow_private_addresses => Err(format!(
                "`url` points at a {why} address, which webhooks may not reach."
            )),
            _ => Ok(()),
        }
    }

    /// Resolves a host name now and refuses it when any address is
    /// forbidden (a name that does not resolve yet is accepted: the
    /// connect-time check still applies).
    pub async fn check_resolved(&self, url: &Url) -> Result<(), String> {
        if self.allow_private_addresses || literal_ip(url).is_some() {
            return Ok(());
        }
        let Some(host) = url.host_str() else {
            return Ok(());
        };
        let port = url.port_or_known_default().unwrap_or(443);
        if let Ok(addrs) = tokio::net::lookup_host((host, port)).await {
            for a in addrs {
                self.check_ip(a.ip())?;
            }
        }
        Ok(())
    }
}

/// The host of `url` when it is an IP literal.
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()
}

/// The HTTP client's resolver: the system resolver, then every address is
/// judged; one forbidden address refuses the name (a mixed answer is how a
/// rebinding attack hedges).
pub struct FilteringResolver {
    pub allow_private_addresses: bool,
}

impl reqwest::dns::Resolve for FilteringResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private_addresses;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow && let Some(why) = addrs.iter().find_map(|a| forbidden(a.ip())) {
                return Err(format!("refused: {host} resolves to a {why} address").into());
            }
            if addrs.is_empty() {
                return Err(format!("{host} has no address").into());
            }
            let out: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(out)
        })
    }
}

impl FilteringResolver {
    pub fn shared(allow_private_addresses: bool) -> Arc<Self> {
        Arc::new(FilteringResolver {
            allow_private_addresses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused() {
        for a in [
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "127.8.8.8",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "168.63.129.16",
            "192.0.0.192",
            "::",
            "::1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:0a00:0001::1",
            "2001:db8::1",
            "2001:0::1",
        ] {
            assert!(forbidden(ip(a)).is_some(), "{a} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.2.1",
            "169.255.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
        ] {
            assert!(forbidden(ip(a)).is_none(), "{a} should pass");
        }
    }

    #[test]
    fn urls_must_be_https_without_credentials_unless_allowed() {
        let p = Policy::default();
        assert!(p.check_url("https://hooks.example.com/in").is_ok());
        assert!(p.check_url("http://hooks.example.com/in").is_err());
        assert!(p.check_url("https://user:pw@hooks.example.com/").is_err());
        assert!(p.check_url("https://127.0.0.1/").is_err());
        assert!(p.check_url("https://[::ffff:169.254.169.254]/").is_err());
        assert!(p.check_url("ftp://hooks.example.com/").is_err());
        assert!(p.check_url("/relative").is_err());
        let test = Policy {
            allow_http_hosts: vec!["127.0.0.1".into()],
            allow_private_addresses: true,
        };
        assert!(test.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(test.check_url("http://localhost:9000/hook").is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_internal_addresses() {
        use reqwest::dns::Resolve;
        let strict = FilteringResolver {
            allow_private_addresses: false,
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(strict.resolve(name).await.is_err());
        let open = FilteringResolver {
            allow_private_addresses: true,
        };
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(open.resolve(name).await.is_ok());
    }
}
