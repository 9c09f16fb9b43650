/* C side of package dpdk; see vecdpdk.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include "vecdpdk.h"

/* How often a send retries rte_eth_tx_burst when the TX ring is full. */
#define VEC_TX_RETRIES 3

int vec_eal_init(int argc, char **argv)
{
	int r = rte_eal_init(argc, argv);
	return r < 0 ? -rte_errno : r;
}

int vec_eal_cleanup(void)
{
	return rte_eal_cleanup() < 0 ? -rte_errno : 0;
}

void vec_strerror(int errnum, char *buf, int buflen)
{
	/* rte_strerror may return a thread-local buffer: copy it while still
	 * on this thread. */
	snprintf(buf, buflen, "%s", rte_strerror(errnum));
}

int vec_set_affinity(const int *cpus, int n)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < n; i++) {
		if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE)
			return -EINVAL;
		CPU_SET(cpus[i], &set);
	}
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

int vec_get_affinity(int *cpus, int max)
{
	cpu_set_t set;
	int i, n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	for (i = 0; i < CPU_SETSIZE && n < max; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	return n;
}

int vec_thread_register(void)
{
	return rte_thread_register() < 0 ? -rte_errno : 0;
}

void vec_thread_unregister(void)
{
	rte_thread_unregister();
}

int vec_thread_set_affinity(int cpu)
{
	rte_cpuset_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* rte_thread_set_affinity returns -1 without setting rte_errno; the
	 * only failure pthread_setaffinity_np can have for the calling thread
	 * and a well-formed set is EINVAL (no usable CPU in the set). */
	return rte_thread_set_affinity(&set) < 0 ? -EINVAL : 0;
}

int vec_lcore_id(void)
{
	unsigned int id = rte_lcore_id();
	return id == LCORE_ID_ANY ? -1 : (int)id;
}

struct rte_mempool *vec_pktmbuf_pool_create(const char *name, unsigned int n,
		unsigned int cache_size, uint16_t data_room_size, int socket,
		int *err)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create(name, n, cache_size,
			0, data_room_size, socket);
	*err = mp == NULL ? rte_errno : 0;
	return mp;
}

int vec_dev_info_get(uint16_t port, struct vec_dev_info *out)
{
	struct rte_eth_dev_info info;
	int r = rte_eth_dev_info_get(port, &info);

	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	snprintf(out->driver, sizeof(out->driver), "%s",
			info.driver_name ? info.driver_name : "");
	out->flow_type_rss_offloads = info.flow_type_rss_offloads;
	out->max_rx_queues = info.max_rx_queues;
	out->max_tx_queues = info.max_tx_queues;
	out->reta_size = info.reta_size;
	out->hash_key_size = info.hash_key_size;
	out->socket = rte_eth_dev_socket_id(port);
	out->max_rx_pktlen = info.max_rx_pktlen;
	out->min_mtu = info.min_mtu;
	out->max_mtu = info.max_mtu;
	if (info.device != NULL) {
		const struct rte_devargs *da = rte_dev_devargs(info.device);

		if (da != NULL && da->drv_str != NULL)
			snprintf(out->devargs, sizeof(out->devargs), "%s", da->drv_str);
	}
	return 0;
}

int vec_dev_configure(uint16_t port, uint16_t nrx, uint16_t ntx, int rss,
		uint8_t *rss_key, uint8_t rss_key_len, uint64_t rss_hf,
		uint16_t mtu)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = mtu;
	if (rss) {
		/* ethdev keeps a copy of conf, including the key pointer, and
		 * some PMDs read the key at dev_start: the caller keeps
		 * rss_key alive (in C memory) as long as the port. */
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = rss_key_len;
		conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
	}
	return rte_eth_dev_configure(port, nrx, ntx, &conf);
}

/* Programs reta[i] = (i % period) % nqueues. With period a power of two
 * dividing reta_size, the queue of a hash depends only on its low
 * log2(period) bits, whatever the device's table size. */
int vec_reta_set(uint16_t port, uint16_t reta_size, uint16_t nqueues,
		uint16_t period)
{
	struct rte_eth_rss_reta_entry64 conf[reta_size / RTE_ETH_RETA_GROUP_SIZE + 1];
	unsigned int i;

	if (nqueues == 0 || period == 0)
		return -EINVAL;
	memset(conf, 0, sizeof(conf));
	for (i = 0; i < reta_size; i++) {
		struct rte_eth_rss_reta_entry64 *g = &conf[i / RTE_ETH_RETA_GROUP_SIZE];
		g->mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		g->reta[i % RTE_ETH_RETA_GROUP_SIZE] = (i % period) % nqueues;
	}
	return rte_eth_dev_rss_reta_update(port, conf, reta_size);
}

int vec_reta_get(uint16_t port, uint16_t reta_size, uint16_t *out)
{
	struct rte_eth_rss_reta_entry64 conf[reta_size / RTE_ETH_RETA_GROUP_SIZE + 1];
	unsigned int i;
	int r;

	memset(conf, 0, sizeof(conf));
	for (i = 0; i < reta_size; i++)
		conf[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
	r = rte_eth_dev_rss_reta_query(port, conf, reta_size);
	if (r < 0)
		return r;
	for (i = 0; i < reta_size; i++)
		out[i] = conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
	return 0;
}

int vec_rss_hash_get(uint16_t port, uint8_t *key, uint8_t key_len,
		uint64_t *hf)
{
	struct rte_eth_rss_conf conf;
	int r;

	memset(&conf, 0, sizeof(conf));
	conf.rss_key = key;
	conf.rss_key_len = key_len;
	r = rte_eth_dev_rss_hash_conf_get(port, &conf);
	if (r == 0)
		*hf = conf.rss_hf;
	return r;
}

struct vec_burst *vec_burst_new(uint16_t size)
{
	/* One cache-aligned block: header, then the seven arrays, each
	 * starting on its own cache line. */
	size_t ptrs = RTE_ALIGN_CEIL(size * sizeof(void *), RTE_CACHE_LINE_SIZE);
	size_t views = RTE_ALIGN_CEIL(size * sizeof(struct vec_view), RTE_CACHE_LINE_SIZE);
	size_t lens = RTE_ALIGN_CEIL(size * sizeof(uint16_t), RTE_CACHE_LINE_SIZE);
	size_t pkt_lens = RTE_ALIGN_CEIL(size * sizeof(uint32_t), RTE_CACHE_LINE_SIZE);
	size_t keep = RTE_ALIGN_CEIL(size, RTE_CACHE_LINE_SIZE);
	size_t head = RTE_ALIGN_CEIL(sizeof(struct vec_burst), RTE_CACHE_LINE_SIZE);
	char *p = rte_zmalloc("vec_burst", head + 2 * ptrs + views + 2 * lens + pkt_lens + keep,
			RTE_CACHE_LINE_SIZE);
	struct vec_burst *b = (struct vec_burst *)p;

	if (b == NULL)
		return NULL;
	p += head;
	b->mbufs = (struct rte_mbuf **)p;
	p += ptrs;
	b->scratch = (struct rte_mbuf **)p;
	p += ptrs;
	b->views = (struct vec_view *)p;
	p += views;
	b->len = (uint16_t *)p;
	p += lens;
	b->pkt_len = (uint32_t *)p;
	p += pkt_lens;
	b->segs = (uint16_t *)p;
	p += lens;
	b->keep = (uint8_t *)p;
	b->size = size;
	return b;
}

void vec_burst_drop(struct vec_burst *b)
{
	if (b->n > 0)
		rte_pktmbuf_free_bulk(b->mbufs, b->n);
	b->n = 0;
}

void vec_burst_free(struct vec_burst *b)
{
	vec_burst_drop(b);
	rte_free(b);
}

static void burst_fill(struct vec_burst *b)
{
	uint16_t i, headroom = UINT16_MAX;

	for (i = 0; i < b->n; i++) {
		struct rte_mbuf *m = b->mbufs[i];
		void *data = rte_pktmbuf_mtod(m, void *);

		headroom = RTE_MIN(headroom, rte_pktmbuf_headroom(m));
		/* The headers the worker parses next: a NIC's DMA leaves them in
		 * memory (or in the last-level cache at best), not in L1. */
		rte_prefetch0(data);
		b->len[i] = rte_pktmbuf_data_len(m);
		b->views[i].data = data;
		b->views[i].len = b->views[i].cap = b->len[i];
		b->pkt_len[i] = rte_pktmbuf_pkt_len(m);
		b->segs[i] = m->nb_segs;
	}
	b->headroom = b->n > 0 ? headroom : 0;
	memset(b->keep, 0, b->n);
}

/* Go may have replaced a packet's view by another range of the same mbuf's
 * buffer: an encapsulating service writes its headers in front of the
 * frame, a reply may be shorter than the frame it was written over. Make
 * the mbuf describe its view again; 0 when the view is not inside a
 * single-segment mbuf's buffer (never for what the fastpath writes), and
 * the packet must not be sent. */
static int view_to_mbuf(struct rte_mbuf *m, const struct vec_view *v)
{
	char *start = m->buf_addr, *data = v->data;

	if (data == rte_pktmbuf_mtod(m, char *) && v->len == m->data_len)
		return 1;
	if (m->nb_segs != 1 || data < start || v->len < 0 ||
			data + v->len > start + m->buf_len)
		return 0;
	m->data_off = data - start;
	m->data_len = v->len;
	m->pkt_len = v->len;
	return 1;
}

uint16_t vec_burst_rx(struct vec_burst *b, uint16_t port, uint16_t queue)
{
	vec_burst_drop(b);
	b->n = rte_eth_rx_burst(port, queue, b->mbufs, b->size);
	burst_fill(b);
	return b->n;
}

int vec_burst_alloc(struct vec_burst *b, struct rte_mempool *mp, uint16_t n,
		uint16_t len)
{
	uint16_t i;
	int r;

	vec_burst_drop(b);
	if (n > b->size)
		return -EINVAL;
	r = rte_pktmbuf_alloc_bulk(mp, b->mbufs, n);
	if (r < 0)
		return r;
	b->n = n;
	for (i = 0; i < n; i++) {
		if (rte_pktmbuf_append(b->mbufs[i], len) == NULL) {
			vec_burst_drop(b);
			return -EINVAL;
		}
	}
	burst_fill(b);
	return 0;
}

static uint16_t tx_retry(uint16_t port, uint16_t queue, struct rte_mbuf **m,
		uint16_t n)
{
	uint16_t sent = rte_eth_tx_burst(port, queue, m, n);
	int tries;

	for (tries = 0; sent < n && tries < VEC_TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(port, queue, m + sent, n - sent);
	return sent;
}

uint16_t vec_burst_send_kept(struct vec_burst *b, uint16_t port,
		uint16_t queue)
{
	uint16_t i, kept = 0, dropped = 0, sent;

	for (i = 0; i < b->n; i++) {
		if (b->keep[i] && view_to_mbuf(b->mbufs[i], &b->views[i]))
			b->mbufs[kept++] = b->mbufs[i];
		else
			b->scratch[dropped++] = b->mbufs[i];
	}
	sent = kept > 0 ? tx_retry(port, queue, b->mbufs, kept) : 0;
	b->tx_full = kept - sent;
	for (i = sent; i < kept; i++)
		b->scratch[dropped++] = b->mbufs[i];
	if (dropped > 0)
		rte_pktmbuf_free_bulk(b->scratch, dropped);
	b->n = 0;
	return sent;
}

uint16_t vec_burst_send_kept_rx(struct vec_burst *b, uint16_t tx_port,
		uint16_t tx_queue, uint16_t rx_port, uint16_t rx_queue)
{
	vec_burst_send_kept(b, tx_port, tx_queue);
	return vec_burst_rx(b, rx_port, rx_queue);
}

uint16_t vec_burst_send_all(struct vec_burst *b, uint16_t port, uint16_t queue)
{
	uint16_t sent = b->n > 0 ? tx_retry(port, queue, b->mbufs, b->n) : 0;

	b->tx_full = b->n - sent;
	if (sent < b->n)
		rte_pktmbuf_free_bulk(b->mbufs + sent, b->n - sent);
	b->n = 0;
	return sent;
}

struct rte_ring *vec_ring_create(const char *name, unsigned int count,
		int socket, int sp, int sc, int *err)
{
	unsigned int flags = RING_F_EXACT_SZ;
	struct rte_ring *r;

	if (sp)
		flags |= RING_F_SP_ENQ;
	if (sc)
		flags |= RING_F_SC_DEQ;
	r = rte_ring_create(name, count, socket, flags);
	*err = r == NULL ? rte_errno : 0;
	return r;
}

int vec_ring_enqueue(struct rte_ring *r, uint64_t v)
{
	return rte_ring_enqueue(r, (void *)(uintptr_t)v);
}

int vec_ring_dequeue(struct rte_ring *r, uint64_t *v)
{
	void *p;
	int ret = rte_ring_dequeue(r, &p);

	if (ret == 0)
		*v = (uint64_t)(uintptr_t)p;
	return ret;
}

unsigned int vec_ring_dequeue_burst(struct rte_ring *r, uint64_t *v,
		unsigned int n)
{
	RTE_BUILD_BUG_ON(sizeof(void *) != sizeof(uint64_t));
	return rte_ring_dequeue_burst(r, (void **)v, n, NULL);
}

unsigned int vec_ring_count(const struct rte_ring *r)
{
	return rte_ring_count(r);
}

uint32_t vec_softrss_ipv4(uint32_t src, uint32_t dst, uint16_t sport,
		uint16_t dport, int l4, const uint8_t *key)
{
	struct rte_ipv4_tuple t;

	t.src_addr = src;
	t.dst_addr = dst;
	t.sport = sport;
	t.dport = dport;
	return rte_softrss((uint32_t *)&t,
			l4 ? RTE_THASH_V4_L4_LEN : RTE_THASH_V4_L3_LEN, key);
}

uint32_t vec_softrss_ipv6(const uint8_t *src, const uint8_t *dst,
		uint16_t sport, uint16_t dport, int l4, const uint8_t *key)
{
	struct rte_ipv6_tuple t;
	int i;

	/* rte_softrss reads the tuple as CPU-order 32-bit words, like
	 * rte_thash_load_v6_addrs leaves a packet's addresses. */
	for (i = 0; i < 4; i++) {
		uint32_t s, d;

		memcpy(&s, src + 4 * i, 4);
		memcpy(&d, dst + 4 * i, 4);
		((uint32_t *)t.src_addr)[i] = rte_be_to_cpu_32(s);
		((uint32_t *)t.dst_addr)[i] = rte_be_to_cpu_32(d);
	}
	t.sport = sport;
	t.dport = dport;
	return rte_softrss((uint32_t *)&t,
			l4 ? RTE_THASH_V6_L4_LEN : RTE_THASH_V6_L3_LEN, key);
}
