#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The process's budget of open descriptors. Thousands of connections need more than the usual soft
/// limit of 1,024; the hard limit is usually far higher and any process may raise its soft limit
/// up to it (and a privileged one the hard limit too, up to the kernel's `fs.nr_open`).
public enum OpenFiles {
    /// Raises the soft limit to the hard limit, and where `wanted` is more than that and the process
    /// may (root, CAP_SYS_RESOURCE), the hard limit to `wanted`. Returns the limit now in force.
    @discardableResult
    public static func raise(wanting wanted: Int = 0) -> Int {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return 1024 }
        if wanted > 0, rlim_t(wanted) > limits.rlim_max {
            var raised = limits
            raised.rlim_max = rlim_t(wanted)
            raised.rlim_cur = rlim_t(wanted)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return wanted }
        }
        if limits.rlim_cur < limits.rlim_max {
            var raised = limits
            raised.rlim_cur = limits.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limits = raised }
        }
        return Int(clamping: limits.rlim_cur)
    }
}
