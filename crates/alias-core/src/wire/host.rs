//! Where requests go: a region's host, or a custom base URL.

use std::fmt;
use std::net::IpAddr;

use http::Uri;

use crate::error::ConfigError;

/// A Mixpanel data residency region. Events sent to another region's host are not ingested
/// for projects created with residency, so this is a correctness setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Region {
    /// `https://api.mixpanel.com`.
    #[default]
    Us,
    /// `https://api-eu.mixpanel.com`.
    Eu,
    /// `https://api-in.mixpanel.com`.
    In,
}

impl Region {
    /// The ingestion host of the region.
    pub fn host(self) -> &'static str {
        match self {
            Self::Us => "api.mixpanel.com",
            Self::Eu => "api-eu.mixpanel.com",
            Self::In => "api-in.mixpanel.com",
        }
    }
}

/// The base URL requests go to: a region's host, or a custom one (a proxy, a test server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHost {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    /// Path prefix without a trailing slash, e.g. `""` or `"/mixpanel"`.
    prefix: String,
}

impl ApiHost {
    /// The host of a region, over https.
    pub fn region(region: Region) -> Self {
        Self {
            scheme: http::uri::Scheme::HTTPS,
            authority: http::uri::Authority::from_static(region.host()),
            prefix: String::new(),
        }
    }

    /// A custom base URL such as `https://proxy.example.com/mixpanel` or
    /// `http://127.0.0.1:8080`.
    ///
    /// Plain `http` is accepted only for loopback hosts (`localhost`, `127.0.0.0/8`, `::1`),
    /// since /import requests carry credentials.
    pub fn custom(url: &str) -> Result<Self, ConfigError> {
        let host = Self::parse(url)?;
        if host.scheme == http::uri::Scheme::HTTP && !host.is_loopback() {
            return Err(ConfigError::InsecureHttp {
                url: without_userinfo(url),
            });
        }
        Ok(host)
    }

    /// A custom base URL that may use plain `http` to any host. Only for networks where the
    /// traffic cannot be read by others.
    pub fn insecure_http(url: &str) -> Result<Self, ConfigError> {
        Self::parse(url)
    }

    fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |reason| ConfigError::BadApiHost {
            url: without_userinfo(url),
            reason,
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a valid URL"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or(bad("the scheme (https://) is missing"))?;
        if scheme != http::uri::Scheme::HTTPS && scheme != http::uri::Scheme::HTTP {
            return Err(bad("only http and https are supported"));
        }
        let authority = uri.authority().cloned().ok_or(bad("the host is missing"))?;
        if authority.as_str().contains('@') {
            return Err(bad(
                "credentials in the URL are not supported; use Credentials",
            ));
        }
        if uri.query().is_some() {
            return Err(bad("a base URL cannot carry a query"));
        }
        // `http` accepts any text after the colon and then reports no port at all, which
        // an HTTP client would only refuse when sending, again and again.
        let after_host = authority
            .as_str()
            .rsplit_once(']')
            .map_or(authority.as_str(), |(_, rest)| rest);
        if let Some((_, port)) = after_host.rsplit_once(':') {
            if !port.parse::<u16>().is_ok_and(|port| port > 0) {
                return Err(bad("the port must be a number from 1 to 65535"));
            }
        }
        Ok(Self {
            scheme,
            authority,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// Whether the host is this machine.
    pub fn is_loopback(&self) -> bool {
        let host = self.authority.host();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The URI of `path` (which starts with `/`) under this host, with an optional query.
    pub(crate) fn uri(&self, path: &str, query: &str) -> Uri {
        let mut path_and_query = format!("{}{}", self.prefix, path);
        if !query.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .unwrap_or_else(|_| {
                unreachable!("scheme, authority and an encoded path always form a URI")
            })
    }
}

impl Default for ApiHost {
    fn default() -> Self {
        Self::region(Region::Us)
    }
}

impl fmt::Display for ApiHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

/// `url` with whatever comes before an `@` in its authority (a user name and password)
/// replaced by `***`, so that an error quoting the URL never shows a credential, even one
/// in a URL too broken to parse.
fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((_, host)) if scheme.is_empty() => format!("***@{host}{tail}"),
        Some((_, host)) => format!("{scheme}://***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_quote_credentials_in_the_url() {
        for url in [
            "https://user:s3cret@api.mixpanel.com",
            "http://user:s3cret@10.0.0.1/x?y",
            "user:s3cret@api.mixpanel.com",
            "https://user:s3cret@exa mple.com",
            "http://s3cret@[::1]:99999",
        ] {
            let error = ApiHost::custom(url).unwrap_err().to_string();
            assert!(!error.contains("s3cret"), "{url}: {error}");
            assert!(error.contains("***@"), "{url}: {error}");
        }
        assert_eq!(
            without_userinfo("https://a:b@host:1/p?q@r"),
            "https://***@host:1/p?q@r"
        );
        assert_eq!(without_userinfo("https://host/p@q"), "https://host/p@q");
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:9/x/",
            "https://example.com/p",
        ] {
            assert!(ApiHost::custom(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            ApiHost::custom("http://10.0.0.1"),
            Err(ConfigError::InsecureHttp {
                url: "http://10.0.0.1".into()
            })
        );
        assert!(ApiHost::insecure_http("http://10.0.0.1").is_ok());
    }

    #[test]
    fn bad_urls_say_why() {
        let err = ApiHost::custom("ftp://x").unwrap_err();
        assert!(err.to_string().contains("only http and https"), "{err}");
        let err = ApiHost::custom("api.mixpanel.com").unwrap_err();
        assert!(matches!(err, ConfigError::BadApiHost { .. }), "{err}");
        let err = ApiHost::custom("https://user:pw@host").unwrap_err();
        assert!(!err.to_string().contains("pw@") || err.to_string().contains("credentials"));
    }

    #[test]
    fn a_port_that_cannot_be_connected_to_is_refused_up_front() {
        for bad in [
            "http://127.0.0.1:99999",
            "http://127.0.0.1:0",
            "http://localhost:http",
            "http://[::1]:x",
            "https://example.com:",
        ] {
            let err = ApiHost::custom(bad).unwrap_err();
            assert!(err.to_string().contains("port"), "{bad}: {err}");
        }
        for good in [
            "http://127.0.0.1:65535",
            "http://[::1]:8080",
            "https://[::1]",
        ] {
            assert!(ApiHost::custom(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn prefix_is_kept_and_uri_built() {
        let host = ApiHost::custom("https://proxy.example.com/mp/").unwrap();
        assert_eq!(
            host.uri("/track", "verbose=1").to_string(),
            "https://proxy.example.com/mp/track?verbose=1"
        );
        assert_eq!(
            ApiHost::region(Region::Eu).uri("/import", "").to_string(),
            "https://api-eu.mixpanel.com/import"
        );
    }
}
