//! TODO(config): owned by a helper; see the module plan in main.rs.
