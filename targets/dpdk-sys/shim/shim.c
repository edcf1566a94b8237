/* See shim.h. Compiled by build.rs with the cflags of pkg-config libdpdk. */
#include <string.h>

#include "shim.h"

int p4c_rte_errno(void) { return rte_errno; }
unsigned p4c_lcore_id(void) { return rte_lcore_id(); }

uint16_t p4c_eth_rx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
	return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t p4c_eth_rx_burst_meta(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **rx_pkts, uint16_t nb_pkts,
			       const uint8_t **data, uint32_t *len)
{
	uint16_t n = rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = rx_pkts[i];
		data[i] = rte_pktmbuf_mtod(m, const uint8_t *);
		len[i] = m->nb_segs == 1 ? m->data_len : UINT32_MAX;
	}
	return n;
}

uint16_t p4c_eth_tx_burst(uint16_t port_id, uint16_t queue_id, struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
	return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *p4c_pktmbuf_alloc(struct rte_mempool *mp) { return rte_pktmbuf_alloc(mp); }

struct rte_mbuf *p4c_pktmbuf_copy2(struct rte_mempool *mp, const uint8_t *head, uint16_t hlen, const uint8_t *tail,
				   uint16_t tlen, int *no_room)
{
	*no_room = 0;
	uint32_t total = (uint32_t)hlen + tlen;
	if (total > UINT16_MAX || total > (uint32_t)rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM) {
		*no_room = 1;
		return NULL;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	if (m == NULL)
		return NULL;
	char *dst = rte_pktmbuf_append(m, (uint16_t)total);
	if (dst == NULL) {
		rte_pktmbuf_free(m);
		*no_room = 1;
		return NULL;
	}
	memcpy(dst, head, hlen);
	memcpy(dst + hlen, tail, tlen);
	return m;
}
void p4c_pktmbuf_free(struct rte_mbuf *m) { rte_pktmbuf_free(m); }
char *p4c_pktmbuf_adj(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_adj(m, len); }
int p4c_pktmbuf_trim(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_trim(m, len); }
char *p4c_pktmbuf_append(struct rte_mbuf *m, uint16_t len) { return rte_pktmbuf_append(m, len); }
int p4c_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail) { return rte_pktmbuf_chain(head, tail); }
uint16_t p4c_mbuf_refcnt_update(struct rte_mbuf *m, int16_t value) { return rte_mbuf_refcnt_update(m, value); }
uint16_t p4c_mbuf_refcnt_read(const struct rte_mbuf *m) { return rte_mbuf_refcnt_read(m); }
void *p4c_pktmbuf_mtod(const struct rte_mbuf *m) { return rte_pktmbuf_mtod(m, void *); }
uint16_t p4c_pktmbuf_data_len(const struct rte_mbuf *m) { return rte_pktmbuf_data_len(m); }
uint32_t p4c_pktmbuf_pkt_len(const struct rte_mbuf *m) { return rte_pktmbuf_pkt_len(m); }
uint16_t p4c_pktmbuf_nb_segs(const struct rte_mbuf *m) { return m->nb_segs; }

const void *p4c_pktmbuf_read(const struct rte_mbuf *m, uint32_t off, uint32_t len, void *buf)
{
	return rte_pktmbuf_read(m, off, len, buf);
}

const char *p4c_eth_dev_args(uint16_t port_id)
{
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get(port_id, &info) != 0 || info.device == NULL)
		return NULL;
	const struct rte_devargs *da = rte_dev_devargs(info.device);
	return da != NULL ? da->args : NULL;
}

uint64_t p4c_mbuf_rx_timestamp(const struct rte_mbuf *m, int offset, uint64_t flag)
{
	if (offset < 0 || (m->ol_flags & flag) == 0)
		return UINT64_MAX;
	return *RTE_MBUF_DYNFIELD(m, offset, rte_mbuf_timestamp_t *);
}

uint64_t p4c_rss_hf_ip_tcp_udp(void) { return RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP; }
uint64_t p4c_tx_offload_multi_segs(void) { return RTE_ETH_TX_OFFLOAD_MULTI_SEGS; }
uint64_t p4c_rx_offload_timestamp(void) { return RTE_ETH_RX_OFFLOAD_TIMESTAMP; }
uint32_t p4c_mbuf_default_buf_size(void) { return RTE_MBUF_DEFAULT_BUF_SIZE; }
const char *p4c_version(void) { return rte_version(); }
