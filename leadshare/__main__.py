from leadshare.cli import main

main()
