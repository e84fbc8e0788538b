//! IP allowlists: CIDR text read into networks, addresses canonicalized
//! first (`::ffff:10.0.0.1` is `10.0.0.1`: `ipnet` alone does not do this).

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::error::{Error, Result};

/// `text` as a network: a CIDR (`203.0.113.0/24`, `2001:db8::/32`) or one
/// address; an IPv4-mapped IPv6 network is the IPv4 network it maps.
///
/// # Errors
/// `Invalid` naming the text.
pub(crate) fn parse(text: &str) -> Result<IpNet> {
    let t = text.trim();
    let net = t
        .parse::<IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            Error::Invalid(format!(
                "`{}` is not a network (a CIDR such as 203.0.113.0/24 or 2001:db8::/32)",
                text.chars().take(80).collect::<String>()
            ))
        })?;
    Ok(canonical_net(net).trunc())
}

fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        other => other,
    }
}

/// An account's gate policy read once per directory version (a request
/// checks it on every `authenticate`): allowlists and shifts parsed.
#[derive(Debug, Default)]
pub(crate) struct GatePolicy {
    account: Vec<IpNet>,
    profiles: std::collections::HashMap<u64, Vec<IpNet>>,
    /// Each shift's hours, by shift id.
    pub hours: std::collections::HashMap<u64, crate::model::shift::Hours>,
}

impl GatePolicy {
    pub(crate) fn of(dir: &crate::model::Directory) -> GatePolicy {
        let parse_all = |list: &[String]| list.iter().filter_map(|t| parse(t).ok()).collect();
        GatePolicy {
            account: parse_all(&dir.account.security.ip_allowlist),
            profiles: dir
                .profiles
                .iter()
                .filter(|p| !p.ip_allowlist.is_empty())
                .map(|p| (p.id, parse_all(&p.ip_allowlist)))
                .collect(),
            // A shift that does not read was refused when stored.
            hours: dir
                .shifts
                .iter()
                .filter_map(|s| Some((s.id, s.hours().ok()?)))
                .collect(),
        }
    }

    /// Whether a user of `profile` may act from `ip`: the account's list and
    /// the profile's (each empty: any).
    pub(crate) fn allow(&self, profile: u64, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let within = |nets: &[IpNet]| nets.is_empty() || nets.iter().any(|n| n.contains(&ip));
        within(&self.account) && self.profiles.get(&profile).is_none_or(|n| within(n))
    }
}

/// Whether `ip` is in one of `list` (any address when `list` is empty),
/// through the same check requests get.
#[cfg(test)]
fn allows(list: &[String], ip: IpAddr) -> bool {
    let lists = GatePolicy {
        account: list.iter().filter_map(|t| parse(t).ok()).collect(),
        profiles: Default::default(),
        hours: Default::default(),
    };
    lists.allow(0, ip)
}

/// Checks and canonicalizes every entry of `list` in place.
pub(crate) fn normalize(list: &mut [String], whose: &str) -> Result<()> {
    for t in list.iter_mut() {
        let net = parse(t).map_err(|e| Error::Invalid(format!("{whose} ip_allowlist: {e}")))?;
        *t = net.to_string();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain model: the top `prefix` bits agree.
    fn in_v4(net: u32, prefix: u32, addr: u32) -> bool {
        prefix == 0 || (net ^ addr) >> (32 - prefix) == 0
    }

    fn in_v6(net: u128, prefix: u32, addr: u128) -> bool {
        prefix == 0 || (net ^ addr) >> (128 - prefix) == 0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn v4_allow_and_deny_agree_with_the_model(
            net: u32, prefix in 0u32..=32, addr: u32, near in 0u32..512, close: bool,
        ) {
            // Half the addresses near the network, so "allowed" comes up.
            let addr = if close { net ^ near } else { addr };
            let list = vec![format!("{}/{prefix}", std::net::Ipv4Addr::from(net))];
            let want = in_v4(net, prefix, addr);
            let v4 = IpAddr::from(std::net::Ipv4Addr::from(addr));
            prop_assert_eq!(allows(&list, v4), want);
            // The same address written as IPv4-mapped IPv6: the same answer.
            let mapped = IpAddr::from(std::net::Ipv4Addr::from(addr).to_ipv6_mapped());
            prop_assert_eq!(allows(&list, mapped), want);
        }

        #[test]
        fn v6_allow_and_deny_agree_with_the_model(
            net: u128, prefix in 0u32..=128, addr: u128, near in 0u128..512, close: bool,
        ) {
            let addr = if close { net ^ near } else { addr };
            let net6 = std::net::Ipv6Addr::from(net);
            // A mapped network is its IPv4 self: skip those, tested above.
            prop_assume!(net6.to_ipv4_mapped().is_none() || prefix < 96);
            let list = vec![format!("{net6}/{prefix}")];
            let ip = std::net::Ipv6Addr::from(addr);
            let want = match ip.to_ipv4_mapped() {
                // A mapped address is compared as IPv4: never in a v6 net.
                Some(_) => false,
                _ => in_v6(net, prefix, addr),
            };
            prop_assert_eq!(allows(&list, IpAddr::from(ip)), want);
        }
    }

    fn ip(t: &str) -> IpAddr {
        t.parse().unwrap()
    }

    #[test]
    fn mapped_addresses_and_networks_are_their_ipv4_selves() {
        let list = vec!["10.0.0.0/8".to_string()];
        assert!(allows(&list, ip("10.1.2.3")));
        assert!(allows(&list, ip("::ffff:10.1.2.3")));
        assert!(!allows(&list, ip("11.0.0.1")));
        assert_eq!(
            parse("::ffff:10.0.0.0/104").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse("203.0.113.7").unwrap().to_string(), "203.0.113.7/32");
        assert_eq!(parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        let v6 = vec!["2001:db8::/32".to_string()];
        assert!(allows(&v6, ip("2001:db8:1::5")));
        assert!(!allows(&v6, ip("2001:db9::1")));
        assert!(!allows(&v6, ip("10.0.0.1")));
        assert!(allows(&[], ip("192.0.2.1")));
        for bad in ["10.0.0.0/33", "banana", "", "2001:db8::/129"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
