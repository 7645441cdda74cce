from camsvc.cli import main

main()
