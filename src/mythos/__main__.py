from mythos.cli import main

main()
