//! The crate-wide error type.

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The embedded program (P4Info) does not load.
    #[error("{0}")]
    Program(String),

    /// A message type is not in [`crate::descriptor_pool`].
    #[error("message type `{0}` is not in the p4clone-proto descriptor pool")]
    UnknownMessageType(String),

    /// Protobuf text format could not be parsed.
    #[error("invalid {message} text format: {reason}")]
    TextFormat {
        /// Full name of the message being parsed.
        message: String,
        /// The parser's explanation (with position).
        reason: String,
    },

    /// Protobuf JSON could not be rendered or parsed.
    #[error("{message} JSON: {reason}")]
    Json {
        /// Full name of the message.
        message: String,
        /// What went wrong.
        reason: String,
    },

    /// Binary protobuf could not be decoded.
    #[error("protobuf decode: {0}")]
    Decode(#[from] prost::DecodeError),

    /// A bytestring is empty (the value 0 is a single zero byte).
    #[error("empty bytestring (0 is encoded as a single zero byte)")]
    EmptyBytestring,

    /// A value does not fit the bitwidth it is meant for.
    #[error("value 0x{value} does not fit in {bitwidth} bits")]
    ValueTooWide {
        /// The value, in hex (without leading zeros).
        value: String,
        /// The available width.
        bitwidth: u32,
    },

    /// An LPM prefix length is outside `0..=bitwidth`.
    #[error("prefix length {prefix_len} is outside 0..={bitwidth}")]
    BadPrefixLen {
        /// The requested prefix length.
        prefix_len: u32,
        /// The field's width.
        bitwidth: u32,
    },

    /// A P4Info object was looked up by a name that does not exist.
    #[error("no {kind} `{name}` in the P4Info ({kind}s: {known})")]
    UnknownName {
        /// Object kind, e.g. "table".
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names that do exist (possibly abbreviated).
        known: String,
    },

    /// A P4Info object was looked up by an id that does not exist.
    #[error("no {kind} with id {id:#010x} in the P4Info")]
    UnknownId {
        /// Object kind, e.g. "table".
        kind: &'static str,
        /// The id asked for.
        id: u32,
    },

    /// A table / action member (match field, parameter) does not exist.
    #[error("{owner_kind} `{owner}` has no {kind} `{name}` ({kind}s: {known})")]
    UnknownMember {
        /// "table" or "action".
        owner_kind: &'static str,
        /// The table or action name.
        owner: String,
        /// "match field" or "parameter".
        kind: &'static str,
        /// The name (or `#id`) asked for.
        name: String,
        /// The members that do exist.
        known: String,
    },

    /// The P4Info is malformed (duplicate ids or names, missing preamble, ...).
    #[error("invalid P4Info: {0}")]
    InvalidP4Info(String),

    /// A gRPC status carried details that are not a `google.rpc.Status`.
    #[error("gRPC status details are not a google.rpc.Status: {0}")]
    BadStatusDetails(prost::DecodeError),

    /// A `google.protobuf.Any` held a different type than expected.
    #[error("expected an Any of type `{expected}`, got `{actual}`")]
    AnyTypeMismatch {
        /// The type URL wanted.
        expected: String,
        /// The type URL found.
        actual: String,
    },
}
