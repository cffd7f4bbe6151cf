/* Services on disk under <data_dir>/run/services. */
#ifndef LOCALCLOUD_RUNSTORE_H
#define LOCALCLOUD_RUNSTORE_H

struct lc;
struct run_service;

/* Each returns 0 or -1 after logging why. */
int	runstore_save(const struct run_service *);
int	runstore_remove(const struct run_service *);
/* Creates the folders and restores every saved service. */
int	runstore_load(struct lc *);

#endif
