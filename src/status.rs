//! TODO(status): owned by a helper; see the module plan in main.rs.
