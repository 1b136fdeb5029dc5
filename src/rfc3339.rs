//! TODO(rfc3339): owned by a helper; see the module plan in main.rs.
