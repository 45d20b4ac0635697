//! What an API key may do. A logged-in person may do everything their role allows; a key only what its
//! scopes name. The scope a request needs follows from its method and path, decided here for every
//! route at once (in the `Principal` extractor), so a new route cannot forget its check: a write to a
//! path not listed below is refused to every key.

use std::collections::BTreeSet;
use std::fmt;

use axum::http::Method;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
pub enum Scope {
    /// Every `GET`: databases, keys, audit log, billing, plans.
    #[serde(rename = "read")]
    Read,
    /// Create, change, pause, resume, reset the password of and delete databases.
    #[serde(rename = "databases:write")]
    DatabasesWrite,
    /// Start Checkout and open the billing portal.
    #[serde(rename = "billing")]
    Billing,
    /// Create and revoke API keys (never with more scopes or a later expiry than the creating key's).
    #[serde(rename = "keys")]
    Keys,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Read,
        Scope::DatabasesWrite,
        Scope::Billing,
        Scope::Keys,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::DatabasesWrite => "databases:write",
            Scope::Billing => "billing",
            Scope::Keys => "keys",
        }
    }

    fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The scope `method path` needs; `None` = no API key may do it (a write outside the known paths).
    pub fn required(method: &Method, path: &str) -> Option<Scope> {
        if method == Method::GET || method == Method::HEAD {
            return Some(Scope::Read);
        }
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if under("/v1/databases") {
            Some(Scope::DatabasesWrite)
        } else if under("/v1/billing") {
            Some(Scope::Billing)
        } else if under("/v1/api-keys") {
            Some(Scope::Keys)
        } else {
            None
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    pub fn all() -> Scopes {
        Scopes(Scope::ALL.into_iter().collect())
    }

    /// What a key is given when its creator names no scopes: what keys could always do (no money, no
    /// keys).
    pub fn default_for_keys() -> Scopes {
        Scopes([Scope::Read, Scope::DatabasesWrite].into())
    }

    pub fn contains(&self, s: Scope) -> bool {
        self.0.contains(&s)
    }

    pub fn is_subset(&self, of: &Scopes) -> bool {
        self.0.is_subset(&of.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// The stored form: space-separated names. Unknown names (a newer version's) are dropped, which
    /// only ever takes power away.
    pub fn parse(s: &str) -> Scopes {
        Scopes(s.split_whitespace().filter_map(Scope::parse).collect())
    }

    pub fn to_stored(&self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }
}

impl From<String> for Scopes {
    fn from(s: String) -> Scopes {
        Scopes::parse(&s)
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(i: I) -> Scopes {
        Scopes(i.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_write_path_needs_its_scope_and_unknown_writes_need_a_session() {
        let r = |m: Method, p: &str| Scope::required(&m, p);
        assert_eq!(r(Method::GET, "/v1/databases"), Some(Scope::Read));
        assert_eq!(r(Method::GET, "/v1/audit-log"), Some(Scope::Read));
        assert_eq!(
            r(Method::POST, "/v1/databases"),
            Some(Scope::DatabasesWrite)
        );
        assert_eq!(
            r(Method::DELETE, "/v1/databases/db_1"),
            Some(Scope::DatabasesWrite)
        );
        assert_eq!(
            r(Method::PATCH, "/v1/databases/db_1"),
            Some(Scope::DatabasesWrite)
        );
        assert_eq!(
            r(Method::POST, "/v1/databases/db_1/pause"),
            Some(Scope::DatabasesWrite)
        );
        assert_eq!(
            r(Method::POST, "/v1/billing/checkout"),
            Some(Scope::Billing)
        );
        assert_eq!(r(Method::POST, "/v1/api-keys"), Some(Scope::Keys));
        assert_eq!(r(Method::DELETE, "/v1/api-keys/key_1"), Some(Scope::Keys));
        assert_eq!(r(Method::POST, "/v1/databasesx"), None);
        assert_eq!(r(Method::POST, "/v1/something-new"), None);
    }

    #[test]
    fn stored_form_round_trips_and_drops_unknown_names() {
        let s: Scopes = [Scope::Keys, Scope::Read].into_iter().collect();
        assert_eq!(s.to_stored(), "read keys");
        assert_eq!(Scopes::parse("read keys"), s);
        assert_eq!(
            Scopes::parse("read admin:everything"),
            [Scope::Read].into_iter().collect()
        );
        assert!(Scopes::default_for_keys().is_subset(&Scopes::all()));
        assert!(!Scopes::all().is_subset(&Scopes::default_for_keys()));
    }
}
