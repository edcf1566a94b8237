//! `p4clone import avi`: the reference load balancer's (Avi / NSX ALB, API 30.x)
//! objects plus a small site file, turned into a p4clone config.
//!
//! One module per job:
//! - [`objects`]: object types, the identity of one object, the import error type;
//! - [`shapes`]: the three input shapes (configuration export, API list response,
//!   single object) split into objects;
//! - [`fields`]: lenient field readers (numbers and booleans written as strings);
//! - [`references`]: parsing `/api/KIND/...` references and resolving them, tenant-scoped;
//! - [`site`]: the site file (what the controller does not know: SE placement, devices);
//! - [`convert`]: objects + site to a [`crate::config::Config`] (virtual services,
//!   names, sections); pools and profiles in `pools_profiles`, networks in `networks`;
//! - [`render`]: the config as deterministic YAML with origin comments.

pub mod convert;
pub mod fields;
mod networks;
pub mod objects;
mod pools_profiles;
pub mod references;
pub mod render;
pub mod shapes;
pub mod site;

pub use convert::{convert, Imported};
pub use objects::{ImportError, Kind, ObjectId};
pub use render::render_yaml;
pub use shapes::InputFile;
pub use site::{parse_site, Site};
