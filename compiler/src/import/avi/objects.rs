//! Object types the importer reads, the identity of one object, and the error type.

use std::fmt;

use thiserror::Error;

/// An object type of the load balancer's API that the importer knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `Tenant`.
    Tenant,
    /// `Cloud` (informational).
    Cloud,
    /// `VrfContext` (informational).
    VrfContext,
    /// `Network`.
    Network,
    /// `ServiceEngineGroup`.
    ServiceEngineGroup,
    /// `Pool`.
    Pool,
    /// `PoolGroup` (not supported; reported where referenced).
    PoolGroup,
    /// `VsVip`.
    VsVip,
    /// `VirtualService`.
    VirtualService,
    /// `TrafficCloneProfile`.
    TrafficCloneProfile,
    /// `NetworkProfile` (only its name is read, for the service protocol).
    NetworkProfile,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 11] = [
        Kind::Tenant,
        Kind::Cloud,
        Kind::VrfContext,
        Kind::Network,
        Kind::ServiceEngineGroup,
        Kind::Pool,
        Kind::PoolGroup,
        Kind::VsVip,
        Kind::VirtualService,
        Kind::TrafficCloneProfile,
        Kind::NetworkProfile,
    ];

    /// The type name as a configuration export keys it (`VirtualService`).
    pub fn export_name(self) -> &'static str {
        match self {
            Kind::Tenant => "Tenant",
            Kind::Cloud => "Cloud",
            Kind::VrfContext => "VrfContext",
            Kind::Network => "Network",
            Kind::ServiceEngineGroup => "ServiceEngineGroup",
            Kind::Pool => "Pool",
            Kind::PoolGroup => "PoolGroup",
            Kind::VsVip => "VsVip",
            Kind::VirtualService => "VirtualService",
            Kind::TrafficCloneProfile => "TrafficCloneProfile",
            Kind::NetworkProfile => "NetworkProfile",
        }
    }

    /// The API path segment (`/api/virtualservice/...`), also the uuid prefix.
    pub fn api_name(self) -> &'static str {
        match self {
            Kind::Tenant => "tenant",
            Kind::Cloud => "cloud",
            Kind::VrfContext => "vrfcontext",
            Kind::Network => "network",
            Kind::ServiceEngineGroup => "serviceenginegroup",
            Kind::Pool => "pool",
            Kind::PoolGroup => "poolgroup",
            Kind::VsVip => "vsvip",
            Kind::VirtualService => "virtualservice",
            Kind::TrafficCloneProfile => "trafficcloneprofile",
            Kind::NetworkProfile => "networkprofile",
        }
    }

    /// The kind of an export key.
    pub fn from_export_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.export_name() == name)
    }

    /// The kind of an API path segment.
    pub fn from_api_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.api_name() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.export_name())
    }
}

/// Which object a problem is about: the input file, its type, name and uuid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectId {
    /// Input file the object came from.
    pub file: String,
    /// Object type.
    pub kind: Kind,
    /// `name` (empty when the object has none).
    pub name: String,
    /// `uuid` (empty when the object has none).
    pub uuid: String,
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} \"{}\"", self.file, self.kind, self.name)?;
        if !self.uuid.is_empty() {
            write!(f, " (uuid {})", self.uuid)?;
        }
        Ok(())
    }
}

/// A problem found while importing (an error, or a warning where a safe reading exists).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImportError {
    /// An input file as a whole (not JSON, unknown shape).
    #[error("{file}: {message}")]
    File {
        /// Input file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// One field of one object.
    #[error("{object}: {field}: {message}")]
    Field {
        /// The object.
        object: Box<ObjectId>,
        /// Field path inside the object (`clone_servers[0].mac`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// One object as a whole.
    #[error("{object}: {message}")]
    Object {
        /// The object.
        object: Box<ObjectId>,
        /// What is wrong.
        message: String,
    },
    /// The site file.
    #[error("site file {file}: {message}")]
    Site {
        /// The site file's name.
        file: String,
        /// What is wrong.
        message: String,
    },
}

impl ObjectId {
    /// An error about `field` of this object.
    pub fn field_error(&self, field: impl Into<String>, message: impl Into<String>) -> ImportError {
        ImportError::Field { object: Box::new(self.clone()), field: field.into(), message: message.into() }
    }

    /// An error about this object as a whole.
    pub fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::Object { object: Box::new(self.clone()), message: message.into() }
    }
}
