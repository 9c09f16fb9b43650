/*
 * Small C helpers for package dpdk: they wrap DPDK's static-inline functions
 * (which cgo cannot call), read rte_errno on the thread that set it, and do
 * whole-burst work so that Go makes one cgo call per burst.
 *
 * Convention: a helper that can fail returns a negative errno value
 * (-rte_errno where DPDK reports through rte_errno).
 */
#ifndef VEC_DPDK_H
#define VEC_DPDK_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

/* A burst: mbuf pointers plus per-packet data pointers, lengths and verdicts,
 * all in C memory so that Go can read and write them without a cgo call. */
/* A view of one mbuf's data laid out as a Go []byte (pointer, length,
 * capacity), so that Go reads the burst's views as a [][]byte in place. */
struct vec_view {
	void *data;
	int64_t len;
	int64_t cap;
};

struct vec_burst {
	struct rte_mbuf **mbufs;   /* size entries; the first n are held */
	struct rte_mbuf **scratch; /* size entries; work space for frees */
	struct vec_view *views;    /* rte_pktmbuf_mtod and data_len of each held mbuf */
	uint16_t *len;             /* data_len of each held mbuf */
	uint32_t *pkt_len;         /* pkt_len of each held mbuf (all segments) */
	uint16_t *segs;            /* nb_segs of each held mbuf */
	uint8_t *keep;             /* verdicts written by Go: 1 = transmit */
	uint16_t size;
	uint16_t n;                /* mbufs held */
	uint16_t tx_full;          /* kept mbufs the last send could not transmit */
	uint16_t headroom;         /* least headroom of the held mbufs (0 when none) */
};

struct vec_dev_info {
	char driver[64];
	uint64_t flow_type_rss_offloads;
	uint16_t max_rx_queues;
	uint16_t max_tx_queues;
	uint16_t reta_size;
	uint8_t hash_key_size;
	int socket;
	uint32_t max_rx_pktlen;
	uint16_t min_mtu;
	uint16_t max_mtu;
	/* The device's arguments (rte_devargs drv_str), e.g. a vdev's
	 * "iface=eth0,framesz=9216"; empty when it has none. */
	char devargs[256];
};

int vec_eal_init(int argc, char **argv);
int vec_eal_cleanup(void);
void vec_strerror(int errnum, char *buf, int buflen);

int vec_set_affinity(const int *cpus, int n);
int vec_get_affinity(int *cpus, int max);
int vec_thread_register(void);
void vec_thread_unregister(void);
int vec_thread_set_affinity(int cpu);
int vec_lcore_id(void);

struct rte_mempool *vec_pktmbuf_pool_create(const char *name, unsigned int n,
		unsigned int cache_size, uint16_t data_room_size, int socket,
		int *err);

int vec_dev_info_get(uint16_t port, struct vec_dev_info *out);
/* mtu 0 keeps the device's default (RTE_ETHER_MTU). */
int vec_dev_configure(uint16_t port, uint16_t nrx, uint16_t ntx, int rss,
		uint8_t *rss_key, uint8_t rss_key_len, uint64_t rss_hf,
		uint16_t mtu);
int vec_reta_set(uint16_t port, uint16_t reta_size, uint16_t nqueues,
		uint16_t period);
int vec_reta_get(uint16_t port, uint16_t reta_size, uint16_t *out);
int vec_rss_hash_get(uint16_t port, uint8_t *key, uint8_t key_len,
		uint64_t *hf);

struct vec_burst *vec_burst_new(uint16_t size);
void vec_burst_free(struct vec_burst *b);
void vec_burst_drop(struct vec_burst *b);
uint16_t vec_burst_rx(struct vec_burst *b, uint16_t port, uint16_t queue);
int vec_burst_alloc(struct vec_burst *b, struct rte_mempool *mp, uint16_t n,
		uint16_t len);
uint16_t vec_burst_send_kept(struct vec_burst *b, uint16_t port,
		uint16_t queue);
/* vec_burst_send_kept on (tx_port, tx_queue), then vec_burst_rx on
 * (rx_port, rx_queue): one call for the end of one burst and the start of
 * the next. */
uint16_t vec_burst_send_kept_rx(struct vec_burst *b, uint16_t tx_port,
		uint16_t tx_queue, uint16_t rx_port, uint16_t rx_queue);
uint16_t vec_burst_send_all(struct vec_burst *b, uint16_t port,
		uint16_t queue);

struct rte_ring *vec_ring_create(const char *name, unsigned int count,
		int socket, int sp, int sc, int *err);
int vec_ring_enqueue(struct rte_ring *r, uint64_t v);
int vec_ring_dequeue(struct rte_ring *r, uint64_t *v);
unsigned int vec_ring_dequeue_burst(struct rte_ring *r, uint64_t *v,
		unsigned int n);
unsigned int vec_ring_count(const struct rte_ring *r);

uint32_t vec_softrss_ipv4(uint32_t src, uint32_t dst, uint16_t sport,
		uint16_t dport, int l4, const uint8_t *key);
uint32_t vec_softrss_ipv6(const uint8_t *src, const uint8_t *dst,
		uint16_t sport, uint16_t dport, int l4, const uint8_t *key);

#endif
