/* C shim: the DPDK static-inline functions and macros p4clone uses, as real
 * (linkable) functions. Only what p4clone calls; each is a one-line wrapper. */
#ifndef P4CLONE_DPDK_SHIM_H
#define P4CLONE_DPDK_SHIM_H

#include <stdint.h>

#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_mbuf_dyn.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_version.h>

/* rte_errno of the calling thread (a per-lcore TLS variable behind a macro). */
int p4c_rte_errno(void);
/* rte_lcore_id(): LCORE_ID_ANY on a non-EAL thread. */
unsigned p4c_lcore_id(void);

uint16_t p4c_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
/* rte_eth_rx_burst(), then per mbuf its data pointer and, for a single-segment
 * mbuf, its length (UINT32_MAX for a multi-segment one): one call per burst. */
uint16_t p4c_eth_rx_burst_meta(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts,
			       const uint8_t **data, uint32_t *len);
uint16_t p4c_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

struct rte_mbuf *p4c_pktmbuf_alloc(struct rte_mempool *mp);
/* One mbuf from mp holding head (hlen bytes) then tail (tlen bytes), or NULL when
 * mp is empty or the frame does not fit one segment (*no_room set to 1, so the
 * caller can build a chain): allocation and copy in one call. */
struct rte_mbuf *p4c_pktmbuf_copy2(struct rte_mempool *mp, const uint8_t *head, uint16_t hlen, const uint8_t *tail,
				   uint16_t tlen, int *no_room);
void p4c_pktmbuf_free(struct rte_mbuf *m);
char *p4c_pktmbuf_adj(struct rte_mbuf *m, uint16_t len);
int p4c_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
char *p4c_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
int p4c_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
uint16_t p4c_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value);
uint16_t p4c_mbuf_refcnt_read(const struct rte_mbuf *m);
/* rte_pktmbuf_mtod(m, void *): the first segment's data. */
void *p4c_pktmbuf_mtod(const struct rte_mbuf *m);
uint16_t p4c_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t p4c_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t p4c_pktmbuf_nb_segs(const struct rte_mbuf *m);
/* rte_pktmbuf_read(): a pointer to len bytes at off, copied into buf when they span segments. */
const void *p4c_pktmbuf_read(const struct rte_mbuf *m, uint32_t off, uint32_t len, void *buf);

/* The device arguments an ethdev was created with (`rx_pcap=...` of
 * `--vdev net_pcap0,rx_pcap=...`), or NULL. */
const char *p4c_eth_dev_args(uint16_t port_id);
/* The RX timestamp dynamic field of m (rte_mbuf_dyn_rx_timestamp_register's
 * offset and flag), or UINT64_MAX when m carries none. */
uint64_t p4c_mbuf_rx_timestamp(const struct rte_mbuf *m, int offset, uint64_t flag);

/* Flag-valued macros built with RTE_BIT64 (bindgen cannot evaluate them). */
uint64_t p4c_rss_hf_ip_tcp_udp(void);
uint64_t p4c_tx_offload_multi_segs(void);
uint64_t p4c_rx_offload_timestamp(void);
uint32_t p4c_mbuf_default_buf_size(void);
const char *p4c_version(void);

#endif
