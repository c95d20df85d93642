#ifndef TSBOX_USERNS_H
#define TSBOX_USERNS_H

/* `tsbox-helper userns [--uid-map IN OUT COUNT]... [--gid-map IN OUT COUNT]...
 *  [--newuidmap PATH --newgidmap PATH] -- CMD [ARG...]`; argv[0] is "userns". */
_Noreturn void userns_main(int argc, char **argv);

#endif
