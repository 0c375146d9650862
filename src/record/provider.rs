//! Which provider an event came from: the `provider` field of the format. The list below
//! is the one place a provider's id is declared; everything it signs, sends and means is
//! its [`Spec`](crate::providers) under `providers/`, which the compiler asks for as soon
//! as a new id is added here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Declares the providers: the enum, its wire names and `Provider::ALL`, from one list.
macro_rules! providers {
    ($($variant:ident = $name:literal,)+) => {
        /// A provider this release serves.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Provider {
            $(#[serde(rename = $name)] $variant,)+
        }

        impl Provider {
            /// Every provider, in the order they are listed and documented.
            pub const ALL: [Provider; [$($name),+].len()] = [$(Provider::$variant),+];

            /// The id in routes, keys, records and variable names (`nabla-connect`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Provider::$variant => $name,)+
                }
            }
        }
    };
}

providers! {
    Daily = "daily",
    Bota = "bota",
    Nabla = "nabla",
    Prosa = "prosa",
    NablaConnect = "nabla-connect",
}

impl Provider {
    /// The prefix of this provider's environment variables (`NABLA_CONNECT`).
    pub fn env_prefix(self) -> String {
        self.as_str().to_ascii_uppercase().replace('-', "_")
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

/// A name that is not one of [`Provider::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}; expected one of {names}", names = names())]
pub struct UnknownProvider(pub String);

fn names() -> String {
    Provider::ALL.map(Provider::as_str).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{p}\""));
            assert_eq!(
                serde_json::from_str::<Provider>(&format!("\"{p}\"")).unwrap(),
                p
            );
        }
        assert_eq!("DAILY".parse::<Provider>(), Ok(Provider::Daily));
        assert_eq!(Provider::NablaConnect.env_prefix(), "NABLA_CONNECT");
        let unknown = "zoom".parse::<Provider>().unwrap_err().to_string();
        assert!(
            unknown.contains("daily, bota, nabla, prosa, nabla-connect"),
            "{unknown}"
        );
    }
}
