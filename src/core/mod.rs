//! `core`: the supervision rules as plain data. No I/O, no clock reads, no
//! libc calls: everything arrives as an `Input` with the current time, and
//! everything to be done leaves as an `Action` for `sys` to carry out.
