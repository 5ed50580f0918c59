/* sockcheck-enter: start one untrusted command (a target or a build step) in its sandbox, in place.
 *
 * Run as root by the launcher; every step happens in this process, which then execs the command, so
 * the command keeps the pid the launcher started (the process checks read that pid's children):
 *
 *   1. join the launch's cgroups (--cgroup DIR, repeatable): every process the command ever makes
 *      stays in them, however it detaches, so teardown can kill them all (sockcheck/launch/cgroups.py);
 *   2. with --private SIZE: a mount namespace and an IPC namespace of its own, with size-capped tmpfs
 *      on /tmp, /var/tmp, /dev/shm and /run (nothing of the machine's there: files, FIFOs, unix
 *      sockets), the folder it runs in and each --keep FOLDER mounted back at their own paths if they
 *      lie below one of them, and a /proc that shows other users' processes to no one (hidepid=2);
 *   3. with --no-network: a network namespace of its own with nothing in it (a build step);
 *   4. resource limits (--rlimit NAME=VALUE), then the user (--uid, --gid, no supplementary groups),
 *      no_new_privs and an empty capability bounding set;
 *   5. exec the command (PATH search as execvp).
 *
 * A failure before the exec exits 125 with "sockcheck-enter: STEP: REASON"; a failed exec exits 126
 * (cannot run) or 127 (not found) with "sockcheck-enter: failed to execute PROGRAM: REASON", as
 * setpriv(1) and prlimit(1) say it (readiness.wrapper_exec_failure reads that line).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static void fail(const char *step, const char *what) {
    fprintf(stderr, "sockcheck-enter: %s%s%s: %s\n", step, what ? " " : "", what ? what : "", strerror(errno));
    exit(125);
}

static void join_cgroup(const char *dir) {
    char path[PATH_MAX], pid[32];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) fail("cgroup", path);
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (write(fd, pid, (size_t)n) != n) fail("cgroup", path);
    close(fd);
}

static const struct { const char *name; int resource; } RLIMITS[] = {
    {"nproc", RLIMIT_NPROC}, {"as", RLIMIT_AS}, {"cpu", RLIMIT_CPU}, {"fsize", RLIMIT_FSIZE},
    {"nofile", RLIMIT_NOFILE}, {"core", RLIMIT_CORE},
};

static void set_rlimit(const char *spec) {
    const char *eq = strchr(spec, '=');
    if (!eq) { errno = EINVAL; fail("rlimit", spec); }
    for (size_t i = 0; i < sizeof RLIMITS / sizeof RLIMITS[0]; i++) {
        if (strlen(RLIMITS[i].name) == (size_t)(eq - spec) && !strncmp(spec, RLIMITS[i].name, (size_t)(eq - spec))) {
            struct rlimit limit;
            limit.rlim_cur = limit.rlim_max = strtoull(eq + 1, NULL, 10);
            if (setrlimit(RLIMITS[i].resource, &limit)) fail("rlimit", spec);
            return;
        }
    }
    errno = EINVAL;
    fail("rlimit", spec);
}

/* Is path at or below folder? */
static int below(const char *path, const char *folder) {
    size_t n = strlen(folder);
    return !strncmp(path, folder, n) && (path[n] == '/' || path[n] == '\0');
}

static void mkdirs(const char *path) {
    char partial[PATH_MAX];
    for (const char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            snprintf(partial, sizeof partial, "%.*s", (int)(p - path), path);
            if (mkdir(partial, 0755) && errno != EEXIST) fail("mkdir", partial);
            if (*p == '\0') return;
        }
    }
}

#define MAX_KEEP 32

/* keep[0..n): folders to mount back at their own paths when below a private tmpfs (the command's
 * folder first, then those its command line and environment name). */
static void private_mounts(const char *size, const char **keep, int n) {
    static const char *const PRIVATE[] = {"/tmp", "/var/tmp", "/dev/shm", "/run"};
    char options[64], fd_path[64];
    int fds[MAX_KEEP];
    if (unshare(CLONE_NEWNS | CLONE_NEWIPC)) fail("unshare", "mount and IPC namespaces");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) fail("mount", "/ private");
    /* Each folder, reachable once hidden; opened in the new namespace, whose mounts a bind may name. */
    for (int k = 0; k < n; k++)
        if ((fds[k] = open(keep[k], O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) fail("open", keep[k]);
    snprintf(options, sizeof options, "size=%s,mode=1777", size);
    for (size_t i = 0; i < sizeof PRIVATE / sizeof PRIVATE[0]; i++) {
        struct stat info;
        if (lstat(PRIVATE[i], &info) || !S_ISDIR(info.st_mode)) continue;  /* /var/tmp may be missing */
        if (mount("tmpfs", PRIVATE[i], "tmpfs", MS_NOSUID | MS_NODEV, options)) fail("mount tmpfs", PRIVATE[i]);
        for (int k = 0; k < n; k++) {
            if (!below(keep[k], PRIVATE[i])) continue;
            mkdirs(keep[k]);
            snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", fds[k]);
            if (mount(fd_path, keep[k], NULL, MS_BIND | MS_REC, NULL)) fail("mount", keep[k]);
        }
    }
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")) fail("mount", "/proc");
    if (fchdir(fds[0])) fail("chdir", keep[0]);
    for (int k = 0; k < n; k++) close(fds[k]);
}

static void drop_user(uid_t uid, gid_t gid) {
    if (setgroups(0, NULL)) fail("setgroups", NULL);
    if (setresgid(gid, gid, gid)) fail("setresgid", NULL);
    if (setresuid(uid, uid, uid)) fail("setresuid", NULL);
}

int main(int argc, char **argv) {
    const char *private_size = NULL, *keep[MAX_KEEP];
    char cwd[PATH_MAX];
    long uid = -1, gid = -1;
    int no_network = 0, i = 1, kept = 1;
    if (!getcwd(cwd, sizeof cwd)) fail("getcwd", NULL);
    keep[0] = cwd;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--cgroup") && i + 1 < argc) join_cgroup(argv[++i]);
        else if (!strcmp(argv[i], "--private") && i + 1 < argc) private_size = argv[++i];
        else if (!strcmp(argv[i], "--no-network")) no_network = 1;
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc) {
            if (kept == MAX_KEEP) { errno = E2BIG; fail("keep", argv[i + 1]); }
            keep[kept++] = argv[++i];
        }
        else if (!strcmp(argv[i], "--rlimit") && i + 1 < argc) i++;  /* applied below, after the mounts */
        else if (!strcmp(argv[i], "--uid") && i + 1 < argc) uid = atol(argv[++i]);
        else if (!strcmp(argv[i], "--gid") && i + 1 < argc) gid = atol(argv[++i]);
        else { fprintf(stderr, "sockcheck-enter: unknown option %s\n", argv[i]); return 125; }
    }
    if (i + 1 >= argc) { fprintf(stderr, "usage: sockcheck-enter [options] -- PROGRAM [ARG...]\n"); return 125; }
    if (private_size) private_mounts(private_size, keep, kept);
    if (no_network && unshare(CLONE_NEWNET)) fail("unshare", "network namespace");
    for (int j = 1; j < i; j++)
        if (!strcmp(argv[j], "--rlimit")) set_rlimit(argv[++j]);
    /* The bounding set while still privileged (dropping needs CAP_SETPCAP); past the kernel's last
     * capability the call says EINVAL.  Not root (no --uid): nothing to drop, EPERM is expected. */
    for (int cap = 0; uid >= 0 && cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)) {
            if (errno == EINVAL) break;
            fail("prctl", "bounding set");
        }
    if (uid >= 0) drop_user((uid_t)uid, (gid_t)(gid >= 0 ? gid : uid));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) fail("prctl", "no_new_privs");
    execvp(argv[i + 1], argv + i + 1);
    int why = errno;
    fprintf(stderr, "sockcheck-enter: failed to execute %s: %s\n", argv[i + 1], strerror(why));
    return why == ENOENT ? 127 : 126;
}
