/* Shared includes for the C baselines of the examples (clang -O2 -target bpf). */
#ifndef BPFIMPORT_BENCH_COMMON_H
#define BPFIMPORT_BENCH_COMMON_H
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";
#endif
