#ifndef TSBOX_FSOPS_H
#define TSBOX_FSOPS_H

/* `tsbox-helper fsops ROOT`, operations on stdin; argv[0] is "fsops". */
_Noreturn void fsops_main(int argc, char **argv);

#endif
